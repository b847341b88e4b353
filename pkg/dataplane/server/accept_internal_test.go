package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Client connections send no TCP keep-alive probes, as with nginx, HAProxy
// and Envoy by default; Go's default cost four setsockopt calls per
// connection.
func TestAcceptedConnectionsSendNoKeepAliveProbes(t *testing.T) {
	s := New(Options{})
	ln, err := s.socket(Listener{Name: "http", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer release(ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var gerr error
	rc.Control(func(fd uintptr) { on, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if gerr != nil || on != 0 {
		t.Errorf("SO_KEEPALIVE %d (%v), want 0", on, gerr)
	}
}

// A Server's listeners hand a connection over once its client has spoken
// (TCP_DEFER_ACCEPT, see deferAccept), so that the first read finds the
// request rather than nothing, then a park and a wake-up.
func TestListenersWaitForTheClientToSpeak(t *testing.T) {
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}}, Handler: http.NotFoundHandler()})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc, err := s.bound[0].raw.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var secs int
	var gerr error
	rc.Control(func(fd uintptr) { secs, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT) })
	if gerr != nil || secs <= 0 {
		t.Errorf("TCP_DEFER_ACCEPT %d (%v), want on", secs, gerr)
	}
}

// A connection accepted after another ended is served by the goroutine
// that served the other, whose stack has grown already, instead of a new
// one that grows its own (a new connection per request: 5% of the CPU).
func TestNextConnectionReusesTheIdleWorker(t *testing.T) {
	s := startIDServer(t)
	before := runtime.NumGoroutine()
	first := closeRequest(t, s)
	waitUntil(t, "an idle worker", func() bool { return idleWorkers(&s.connWorkers) == 1 })
	if second := closeRequest(t, s); second != first {
		t.Errorf("second connection served by goroutine %s, want the idle worker %s", second, first)
	}
	waitUntil(t, "an idle worker", func() bool { return idleWorkers(&s.connWorkers) == 1 })
	s.Close()
	waitUntil(t, "the idle worker to end with the Server", func() bool { return runtime.NumGoroutine() < before })
}

// closeRequest makes one request on a connection of its own, which the
// server closes, and returns the body.
func closeRequest(t *testing.T, s *Server) string {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("response %q", resp)
	}
	return string(body)
}

// startIDServer starts a Server whose responses name the goroutine that
// served them; it is closed when the test ends.
func startIDServer(t *testing.T) *Server {
	t.Helper()
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strconv.FormatUint(goroutineID(), 10))
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

// waitUntil polls cond until it holds, failing after parkSafety.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(parkSafety)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A first request that arrives with the connection is read with one read
// from the connection, not its first byte and then the rest.
func TestFirstRequestIsReadInOneCall(t *testing.T) {
	if n := serveFirstRequest(t).reads.Load(); n != 1 {
		t.Errorf("the request took %d reads, want 1", n)
	}
}

// A first request whose head comes whole within firstByteGrace sets one
// read deadline, the grace's: each deadline set re-arms a runtime timer.
func TestFirstRequestSetsOneReadDeadline(t *testing.T) {
	if n := serveFirstRequest(t).deadlines.Load(); n != 1 {
		t.Errorf("the request set %d read deadlines, want 1", n)
	}
}

// serveFirstRequest serves one request with Connection: close on a new
// connection, and returns what the connection was asked to do.
func serveFirstRequest(t *testing.T) *probeListener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &probeListener{Listener: raw}
	s := New(Options{Inherited: map[string]net.Listener{"http": ln}}, Service{Name: "svc",
		Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if body := closeRequest(t, s); body != "hi" {
		t.Fatalf("body %q", body)
	}
	return ln
}

// probeListener counts its connections' reads and read deadlines.
type probeListener struct {
	net.Listener
	reads, deadlines atomic.Int64
}

func (l *probeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// The tests are about a request that came with the connection: on a
	// loaded machine the client's write may land after the accept, and
	// the server rightly parks such a connection before reading it.
	if err := awaitReadable(c, 10*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return &probeConn{Conn: c, l: l}, nil
}

// awaitReadable blocks until c has bytes to read, without reading them.
func awaitReadable(c net.Conn, limit time.Duration) error {
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var pollErr error
	err = raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		var n int
		n, pollErr = unix.Poll(fds, int(limit/time.Millisecond))
		if pollErr == nil && n == 0 {
			pollErr = errors.New("no request within " + limit.String())
		}
	})
	if err != nil {
		return err
	}
	return pollErr
}

type probeConn struct {
	net.Conn
	l *probeListener
}

func (c *probeConn) Read(p []byte) (int, error) {
	c.l.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *probeConn) SetReadDeadline(t time.Time) error {
	c.l.deadlines.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// An h2c preface that comes in pieces, the rest after firstByteGrace, is
// still HTTP/2: waiting with the buffers shortens only the wait for the
// first byte, not the ReadHeaderTimeout the rest has.
func TestSlowH2CPrefaceIsStillHTTP2(t *testing.T) {
	s := startParking(t, Options{}, nil)
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(parkSafety))
	io.WriteString(c, h2Preface[:5])
	time.Sleep(10 * firstByteGrace)                                         // the pause under test, not a synchronisation
	io.WriteString(c, h2Preface[5:]+"\x00\x00\x00\x04\x00\x00\x00\x00\x00") // and an empty SETTINGS
	var frame [9]byte
	if _, err := io.ReadFull(c, frame[:]); err != nil {
		t.Fatal(err)
	}
	if frame[3] != 0x4 { // SETTINGS, the server's first frame
		t.Errorf("server answered %q, want an HTTP/2 SETTINGS frame", frame)
	}
}

// A connection's first request runs on a stack already big enough for
// the handler: growing it deep in the proxy copied twenty-odd frames, more
// than parsing the request cost (a new connection per request: 14% of the
// CPU). Each handler here needs 6 KiB of stack, and checks that its own
// frame did not move.
func TestFirstRequestRunsOnAPresizedStack(t *testing.T) {
	var moved atomic.Int64
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var marker byte
			before := uintptr(unsafe.Pointer(&marker))
			growStack(6)
			if uintptr(unsafe.Pointer(&marker)) != before {
				moved.Add(1)
			}
			io.WriteString(w, "hi")
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const conns = 10
	for range conns {
		closeRequest(t, s)
	}
	if n := moved.Load(); n > 0 {
		t.Errorf("the stack was grown under %d of %d handlers", n, conns)
	}
}

// A burst of connections at once leaves as many idle workers as it
// needed, up to maxIdleWorkers, and the next burst is served by them:
// with four kept, half of a burst of eight started goroutines anew (and
// grew their stacks) every time. Workers no connection needed for a
// workerIdle period end.
func TestIdleWorkersServeTheNextBurstThenRetire(t *testing.T) {
	const burst = 8
	var arrived sync.WaitGroup
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived.Done()
			arrived.Wait() // all of the burst is in, each on a worker of its own
			io.WriteString(w, strconv.FormatUint(goroutineID(), 10))
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := closeBurst(t, s, burst, &arrived)
	waitUntil(t, "the burst's workers to idle", func() bool { return idleWorkers(&s.connWorkers) == burst })
	for id := range closeBurst(t, s, burst, &arrived) {
		if !first[id] {
			t.Errorf("goroutine %s served the second burst, want one of the first's idle workers", id)
		}
	}
	waitUntil(t, "the idle workers to retire", func() bool { return idleWorkers(&s.connWorkers) == 0 })
}

// closeBurst makes n requests at once, each on a connection of its own,
// and returns the bodies.
func closeBurst(t *testing.T, s *Server, n int, arrived *sync.WaitGroup) map[string]bool {
	t.Helper()
	arrived.Add(n)
	bodies := make(chan string, n)
	for range n {
		go func() { bodies <- closeRequest(t, s) }()
	}
	got := make(map[string]bool)
	for range n {
		got[<-bodies] = true
	}
	return got
}
