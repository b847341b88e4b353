package server

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// h2Handler runs a listener's handler for x/net/http2 on a pooled worker
// (see h2Workers) rather than on the goroutine x/net starts per stream.
type h2Handler struct {
	h       http.Handler
	workers *h2Workers
}

func (h h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.workers.serve(h.h, w, r)
}

// h2Workers keeps the goroutines that ran HTTP/2 handlers for the next
// streams. x/net/http2 starts a goroutine per stream on the runtime's
// small starting stack; every request outgrew it deep in the proxy
// (routing, the upstream request, the upstream client's read), once or
// twice, and each time the runtime copies the stack and rewrites every
// frame on it: 9% of an h2c request's instructions. A worker's stack has
// grown once, and its first frame (workerStackBytes) keeps it from being
// shrunk by the GC while it waits. The stream's goroutine hands the
// request over and waits for it, so a stream costs two goroutine switches
// instead of a stack copy, and x/net's goroutine stays small.
//
// Idle workers wait in a LIFO, so that the busiest stay warm; at most
// maxIdleH2Workers wait. A worker that stayed idle over a whole
// h2WorkerIdle is not needed for the load: every h2WorkerIdle the fewest
// idle of the period end, so a burst's workers outlive it by two periods
// at most.
type h2Workers struct {
	mu      sync.Mutex
	idle    []*h2Worker // the most recently used last
	low     int         // fewest idle since the last trim
	ticks   int         // of the gone check since the last trim (see tick)
	stopped bool
}

const (
	maxIdleH2Workers = 512
	h2WorkerIdle     = 10 * time.Second
	// workerStackBytes is the frame a worker's loop runs under: with what
	// a proxied request needs below it, its stack fits in 16 KiB, which
	// the GC shrinks only while less than a quarter of it is in use.
	workerStackBytes = 6 << 10
)

// h2Worker is a goroutine running handlers one after the other.
type h2Worker struct {
	jobs chan h2Job    // a handler to run; a zero job ends the worker
	done chan h2Result // unbuffered: a result goes to the caller waiting for it, never to the next
}

type h2Job struct {
	h http.Handler
	w http.ResponseWriter
	r *http.Request
}

// h2Result is how a handler ended: returned, panicked (value), or ended
// its goroutine (runtime.Goexit).
type h2Result struct {
	panicked bool
	goexit   bool
	value    any
}

// serve runs h for the request on a worker and returns when it did; a
// panic or Goexit of h happens again in the caller, which x/net handles.
func (p *h2Workers) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	job := h2Job{h, w, r}
	wk := p.get()
	if wk == nil {
		wk = &h2Worker{jobs: make(chan h2Job), done: make(chan h2Result)}
		go wk.start(p, job)
	} else {
		wk.jobs <- job
	}
	res := <-wk.done
	switch {
	case res.goexit:
		runtime.Goexit()
	case res.panicked:
		panic(res.value)
	}
}

func (p *h2Workers) get() *h2Worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	wk := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.low = min(p.low, n-1)
	return wk
}

// put makes wk idle, unless enough are; false tells wk to end.
func (p *h2Workers) put(wk *h2Worker) bool {
	p.mu.Lock()
	if p.stopped || len(p.idle) >= maxIdleH2Workers {
		p.mu.Unlock()
		return false
	}
	p.idle = append(p.idle, wk)
	p.mu.Unlock()
	return true
}

// h2TrimTicks is h2WorkerIdle in ticks of the Server's gone check, which
// calls tick: one ticker serves every periodic check of a Server.
const h2TrimTicks = int(h2WorkerIdle / goneCheckInterval)

// tick is called every goneCheckInterval, from one goroutine; every
// h2TrimTicks it ends the workers that were idle the whole period.
func (p *h2Workers) tick() {
	if p.ticks++; p.ticks >= h2TrimTicks {
		p.ticks = 0
		p.trim()
	}
}

// trim ends the workers idle since the last trim: the oldest, at the
// bottom of the LIFO.
func (p *h2Workers) trim() {
	p.mu.Lock()
	unneeded := slices.Clone(p.idle[:p.low])
	n := copy(p.idle, p.idle[p.low:])
	clear(p.idle[n:])
	p.idle, p.low = p.idle[:n], n
	p.mu.Unlock()
	for _, wk := range unneeded {
		wk.jobs <- h2Job{} // idle: it waits for a job, or is about to
	}
}

// stop ends the idle workers; busy ones end when their handler returns.
func (p *h2Workers) stop() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.stopped = nil, true
	p.mu.Unlock()
	for _, wk := range idle {
		wk.jobs <- h2Job{}
	}
}

// start runs the worker's loop under a frame of workerStackBytes, which
// the GC sees in use while the worker waits.
//
//go:noinline
func (wk *h2Worker) start(p *h2Workers, job h2Job) {
	var frame [workerStackBytes]byte
	frame[stackProbe] = 1
	wk.loop(p, job)
	runtime.KeepAlive(frame[stackProbe])
}

// stackProbe is always 0: an index the compiler cannot see through, so
// that a frame made to size a stack (h2Worker.start, presizeStack) is
// kept.
var stackProbe int

func (wk *h2Worker) loop(p *h2Workers, job h2Job) {
	for {
		res, ok := wk.run(job)
		if !ok {
			return // the handler called Goexit: its caller was told
		}
		// Idle again before the caller learns the result, so that a
		// stream that comes right after finds it; a next caller's job
		// waits until this result was taken.
		idle := p.put(wk)
		wk.done <- res
		if !idle {
			return
		}
		if job = <-wk.jobs; job.h == nil {
			return
		}
	}
}

// run runs one handler; ok is false if it called runtime.Goexit, which
// ends the worker (the caller then does the same).
func (wk *h2Worker) run(job h2Job) (res h2Result, ok bool) {
	finished := false
	defer func() {
		if finished {
			return
		}
		if v := recover(); v != nil {
			res, ok = h2Result{panicked: true, value: withStack(v)}, true
			return
		}
		wk.done <- h2Result{goexit: true}
	}()
	job.h.ServeHTTP(job.w, job.r)
	finished = true
	return h2Result{}, true
}

// withStack keeps the worker's stack of a panic x/net will log (any but
// http.ErrAbortHandler): the stack x/net logs is its own goroutine's,
// which says nothing of where the handler failed.
func withStack(v any) any {
	if v == http.ErrAbortHandler {
		return v
	}
	return handlerPanic{value: v, stack: debug.Stack()}
}

type handlerPanic struct {
	value any
	stack []byte
}

func (p handlerPanic) String() string {
	return fmt.Sprintf("%v\n[handler goroutine]\n%s", p.value, p.stack)
}
