package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// funcJob is a worker's job in these tests.
type funcJob func()

func (f funcJob) run() { f() }

// runConcurrently runs n jobs on p at once, each busy until all n
// started, and returns when all are done: n workers were needed.
func runConcurrently(p *workers[funcJob], n int, waited bool) {
	var entered, done sync.WaitGroup
	entered.Add(n)
	done.Add(n)
	job := funcJob(func() {
		entered.Done()
		entered.Wait()
		if !waited {
			done.Done()
		}
	})
	for range n {
		if waited {
			go func() { p.call(job); done.Done() }()
		} else {
			p.start(job)
		}
	}
	done.Wait()
}

// A burst leaves at most maxIdleWorkers waiting; the others end, each
// goroutine with its stack.
func TestWorkersKeepAtMostMaxIdle(t *testing.T) {
	var p workers[funcJob]
	before := runtime.NumGoroutine()
	runConcurrently(&p, maxIdleWorkers+20, false)
	waitUntil(t, "the burst's workers to idle", func() bool { return idleWorkers(&p) == maxIdleWorkers })
	waitGoroutines(t, before+maxIdleWorkers)
	p.stop()
	waitGoroutines(t, before)
}

// Workers that stayed idle through a whole period end at its end; the
// one the load kept using stays; stop ends the idle ones and later ones
// do not stay. The same for jobs run and awaited (call, HTTP/2 handlers)
// and run alone (start, connections).
func TestWorkersEndWhenTheLoadNoLongerNeedsThem(t *testing.T) {
	for _, waited := range []bool{true, false} {
		var p workers[funcJob]
		before := runtime.NumGoroutine()
		runConcurrently(&p, 3, waited)
		// A worker goes back to the idle list after its job returns,
		// which may be after the jobs' callers went on.
		waitUntil(t, "3 idle workers after 3 concurrent jobs", func() bool { return idleWorkers(&p) == 3 })
		waitGoroutines(t, before+3)
		nop := funcJob(func() {})
		for range retireTicks { // the period of the burst: all were busy at some point
			p.tick()
		}
		for range 10 {
			p.call(nop)
		}
		if n := idleWorkers(&p); n != 3 {
			t.Fatalf("waited %v: %d idle workers after the first period, want 3", waited, n)
		}
		for range retireTicks - 1 { // a period of one job at a time, ticked by the gone check
			p.tick()
		}
		if n := idleWorkers(&p); n != 3 {
			t.Fatalf("waited %v: %d idle workers a tick before the period ended, want 3", waited, n)
		}
		p.tick()
		if n := idleWorkers(&p); n != 1 {
			t.Fatalf("waited %v: %d idle workers after a period of one job at a time, want 1", waited, n)
		}
		waitGoroutines(t, before+1)
		p.stop()
		p.call(nop)
		p.start(nop)
		if n := idleWorkers(&p); n != 0 {
			t.Fatalf("waited %v: %d idle workers after stop, want 0", waited, n)
		}
		waitGoroutines(t, before)
	}
}

// A Server that served connections and HTTP/2 streams leaves none of its
// workers behind once closed.
func TestClosedServerLeavesNoWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	h2 := h2cTestClient()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { closeRequest(t, s) })
		wg.Go(func() { get(t, h2, "http://"+s.Addr("http").String()+"/") })
	}
	wg.Wait()
	h2.CloseIdleConnections()
	// A connection's worker turns idle after closing the connection,
	// which the client may see first.
	waitUntil(t, "idle workers to end, for connections and HTTP/2", func() bool {
		return idleWorkers(&s.connWorkers) > 0 && idleWorkers(&s.h2workers) > 0
	})
	s.Close()
	waitGoroutines(t, before)
}

// An HTTP/1 connection's request runs on a worker whose stack is sized
// for the proxy: a first request on a new connection does not grow it
// (see TestFirstRequestRunsOnAPresizedStack), and an idle worker keeps
// it through a GC.
func TestIdleWorkerKeepsItsStackThroughAGC(t *testing.T) {
	moved := make(chan bool, 1)
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			moved <- requestMovesStack()
			io.WriteString(w, "hi")
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		closeRequest(t, s)
		if <-moved {
			t.Fatalf("request %d: the handler's stack was moved", i+1)
		}
		waitUntil(t, "an idle worker", func() bool { return idleWorkers(&s.connWorkers) == 1 })
		runtime.GC() // shrinks the stacks of idle goroutines that use less than a quarter
	}
}

// requestMovesStack uses the stack a proxied request needs below the
// handler (6 KiB, see TestFirstRequestRunsOnAPresizedStack) and tells
// whether that moved the stack.
func requestMovesStack() bool {
	var marker byte
	before := uintptr(unsafe.Pointer(&marker))
	growStack(6)
	return uintptr(unsafe.Pointer(&marker)) != before
}

func idleWorkers[J job](p *workers[J]) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func waitGoroutines(t *testing.T, atMost int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > atMost {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want at most %d", runtime.NumGoroutine(), atMost)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A parked connection's next request is served by an idle connection
// worker, whose stack is sized, rather than by a new goroutine that grows
// one (a keep-alive client that pauses over idleGrace between requests,
// as browsers do, had a new goroutine for each request after a pause).
func TestWokenConnectionIsServedByAWorker(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections park only on Linux")
	}
	s := startIDServer(t)
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(parkSafety))
	rd := bufio.NewReader(c)
	first := keepAliveRequest(t, c, rd)
	// The worker is idle again once the connection went idle and parked.
	waitUntil(t, "the connection to park", func() bool { return idleWorkers(&s.connWorkers) == 1 })
	if next := keepAliveRequest(t, c, rd); next != first {
		t.Errorf("the parked connection's next request ran on goroutine %s, want the idle worker %s", next, first)
	}
}

// keepAliveRequest makes a request on c and returns the body.
func keepAliveRequest(t *testing.T, c net.Conn, rd *bufio.Reader) string {
	t.Helper()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
