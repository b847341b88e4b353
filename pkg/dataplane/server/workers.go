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

// workers keeps the goroutines that ran jobs (serving an HTTP/1 or TLS
// connection, running an HTTP/2 stream's handler) for the next jobs,
// each with the stack its jobs grew. A new goroutine starts on the
// runtime's 2 KiB stack and the proxy's path needs about 16 KiB: every
// time a call deep in the proxy overflows it, the runtime copies the
// stack and rewrites each of the twenty-odd frames on it. In callgrind of
// h2c through the bench proxy (h2load -c8 -m8), per request: 143.0k
// instructions with kept workers; 178.3k with the handler on the
// goroutine x/net starts per stream; 147.4k on that goroutine with its
// stack presized while shallow (see presizeStack); 158.7k with a new
// worker per stream (nothing kept). A kept worker saves its creation and
// its stack's growth; the hand-over costs two goroutine switches.
//
// A kept worker costs its stack while idle, 16 KiB. One rule bounds that:
// at most maxIdleWorkers wait, and at the end of every workerIdle period
// the fewest that were idle during the period end, since the load did
// not need them all that time. Idle workers wait in a LIFO, so that the
// load keeps the same ones busy and the ones it stopped needing are the
// oldest, the ones that end. After a burst, its workers are gone within
// two periods. A steady load whose concurrency wavers ends and re-creates
// a few each period: in the h2c run above, 40 in 10 s, 0.2% of the
// instructions (a 10 s period: none, but a burst's stacks stay 20 s).
type workers[J job] struct {
	mu      sync.Mutex
	idle    []*worker[J] // the most recently used last
	low     int          // fewest idle since the last retirement
	ticks   int          // of the gone check since the last retirement (see tick)
	stopped bool
}

// job is what a worker runs.
type job interface{ run() }

const (
	maxIdleWorkers = 256
	workerIdle     = time.Second
	// retireTicks is workerIdle in ticks of the Server's gone check,
	// which calls tick: one ticker serves every periodic check of a Server.
	retireTicks = int(workerIdle / goneCheckInterval)
)

// worker is a goroutine running jobs one after the other.
type worker[J job] struct {
	tasks chan task[J]
	done  chan outcome // unbuffered: an outcome goes to the caller waiting for it, never to the next
}

type task[J job] struct {
	job    J
	waited bool // by a caller of call, on done
	end    bool // the worker ends
}

// outcome is how a waited job ended: returned, panicked (value), or
// ended its goroutine (runtime.Goexit).
type outcome struct {
	panicked bool
	goexit   bool
	value    any
}

// start runs j on an idle worker, else on a new one, and returns.
func (p *workers[J]) start(j J) { p.hand(task[J]{job: j}) }

// call runs j on a worker and returns when it did; a panic or Goexit of
// j happens again in the caller.
func (p *workers[J]) call(j J) {
	(<-p.hand(task[J]{job: j, waited: true}).done).rethrow()
}

// rethrow ends the caller as the job ended: by a panic with its value, or
// by runtime.Goexit.
func (res outcome) rethrow() {
	switch {
	case res.goexit:
		runtime.Goexit()
	case res.panicked:
		panic(res.value)
	}
}

func (p *workers[J]) hand(t task[J]) *worker[J] {
	if wk := p.get(); wk != nil {
		wk.tasks <- t
		return wk
	}
	wk := &worker[J]{tasks: make(chan task[J]), done: make(chan outcome)}
	go wk.begin(p, t)
	return wk
}

func (p *workers[J]) get() *worker[J] {
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
func (p *workers[J]) put(wk *worker[J]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || len(p.idle) >= maxIdleWorkers {
		return false
	}
	p.idle = append(p.idle, wk)
	return true
}

// tick is called every goneCheckInterval, from one goroutine; every
// retireTicks it ends the workers idle the whole period.
func (p *workers[J]) tick() {
	if p.ticks++; p.ticks >= retireTicks {
		p.ticks = 0
		p.retire()
	}
}

// retire ends the workers idle since the last retirement: the oldest,
// at the bottom of the LIFO.
func (p *workers[J]) retire() {
	p.mu.Lock()
	unneeded := slices.Clone(p.idle[:p.low])
	n := copy(p.idle, p.idle[p.low:])
	clear(p.idle[n:])
	p.idle, p.low = p.idle[:n], n
	p.mu.Unlock()
	endAll(unneeded)
}

// stop ends the idle workers; busy ones end when their job is done.
func (p *workers[J]) stop() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.low, p.stopped = nil, 0, true
	p.mu.Unlock()
	endAll(idle)
}

func endAll[J job](idle []*worker[J]) {
	for _, wk := range idle {
		wk.tasks <- task[J]{end: true} // idle: it waits for a task, or is about to
	}
}

// workerStackBytes is the frame a worker's loop runs under. The GC
// shrinks a stack while less than a quarter of it is in use, which an
// idle worker's would be without it, and the next job would grow it
// again deep in the proxy; with it, a 16 KiB stack keeps 12 KiB for the
// jobs, which the proxy's path fits in.
const workerStackBytes = 4 << 10

// begin sizes the new worker's stack at once, while it is shallow and a
// copy cheap (see presizeStack), and runs the worker's loop under a frame
// of workerStackBytes, which the GC sees in use while the worker waits.
//
//go:noinline
func (wk *worker[J]) begin(p *workers[J], t task[J]) {
	var frame [workerStackBytes]byte
	frame[stackProbe] = 1
	presizeStack()
	wk.loop(p, t)
	runtime.KeepAlive(frame[stackProbe])
}

// stackProbe is always 0: an index the compiler cannot see through, so
// that a frame made to size a stack (worker.begin, presizeStack) is kept.
var stackProbe int

func (wk *worker[J]) loop(p *workers[J], t task[J]) {
	for {
		if !t.waited {
			t.job.run()
			if !p.put(wk) {
				return
			}
		} else if !wk.runWaited(p, t.job) {
			return
		}
		if t = <-wk.tasks; t.end {
			return
		}
	}
}

// runWaited runs j for a caller of call and gives it the outcome;
// false: the worker ends.
func (wk *worker[J]) runWaited(p *workers[J], j J) bool {
	res, ok := wk.run(j)
	if !ok {
		return false // j called Goexit: its caller was told
	}
	// Idle again before the caller learns the outcome, so that a job
	// that comes right after finds it; a next caller's task waits until
	// this outcome was taken.
	idle := p.put(wk)
	wk.done <- res
	return idle
}

// run runs a waited job; ok is false if it called runtime.Goexit, which
// ends the worker (the caller then does the same).
func (wk *worker[J]) run(j J) (res outcome, ok bool) {
	finished := false
	defer func() {
		if finished {
			return
		}
		if v := recover(); v != nil {
			res, ok = outcome{panicked: true, value: withStack(v)}, true
			return
		}
		wk.done <- outcome{goexit: true}
	}()
	j.run()
	finished = true
	return outcome{}, true
}

// withStack keeps the worker's stack of a panic the caller will log (any
// but http.ErrAbortHandler): the caller's own stack says nothing of where
// the job failed.
func withStack(v any) any {
	if v == http.ErrAbortHandler {
		return v
	}
	return jobPanic{value: v, stack: debug.Stack()}
}

type jobPanic struct {
	value any
	stack []byte
}

func (p jobPanic) String() string {
	return fmt.Sprintf("%v\n[worker goroutine]\n%s", p.value, p.stack)
}
