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

// On a listener that hands connections over at their first bytes
// (deferAccept), a first request that came with its connection is read
// without a read deadline: each one set arms a runtime timer, and with a
// new connection per request the first byte's grace was the one timer of
// the connection, armed and then fired or stopped (issue 14).
func TestDeferredFirstRequestSetsNoReadDeadline(t *testing.T) {
	ln := listenDeferredProbe(t)
	body := serveFirstRequestOn(t, ln, Options{})
	if body != "hi" {
		t.Fatalf("body %q", body)
	}
	if n := ln.deadlines.Load(); n != 0 {
		t.Errorf("the request set %d read deadlines, want 0", n)
	}
}

// A connection the kernel handed over without a byte (after the deferral,
// see deferSeconds) still gives its buffers back if it stays silent,
// within a gone check of firstByteGrace, and is served when it speaks.
func TestDeferredSilentConnectionReleasesItsBuffers(t *testing.T) {
	ln := listenDeferredProbe(t)
	s := startOn(t, ln, Options{})
	ln.undefer(t) // the deferral has run out: what comes next is silent
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	waitUntil(t, "the silent connection to be served", func() bool { return s.served.n.Load() == 1 })
	waitUntil(t, "its buffers given back", func() bool { return !holdingBuffers(s) })
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(c)
	if err != nil || !bytes.HasSuffix(resp, []byte("\r\n\r\nhi")) {
		t.Fatalf("response %q, %v", resp, err)
	}
}

// A silent connection so handed over is still closed ReadHeaderTimeout
// after it was, no later than a gone check past it.
func TestDeferredSilentConnectionTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ln := listenDeferredProbe(t)
	s := startOn(t, ln, Options{ReadHeaderTimeout: timeout})
	ln.undefer(t)
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	began := time.Now()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
	}
	if took := time.Since(began); took < timeout-50*time.Millisecond || took > timeout+2*goneCheckInterval+time.Second {
		t.Errorf("closed after %v, want about %v", took, timeout)
	}
}

// serveFirstRequestOn serves one request with Connection: close on a new
// connection accepted from ln, and returns the body.
func serveFirstRequestOn(t *testing.T, ln net.Listener, opts Options) string {
	t.Helper()
	return closeRequest(t, startOn(t, ln, opts))
}

// startOn starts a Server answering "hi" on ln, inherited as "http".
func startOn(t *testing.T, ln net.Listener, opts Options) *Server {
	t.Helper()
	opts.Inherited = map[string]net.Listener{"http": ln}
	s := New(opts, Service{Name: "svc",
		Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// deferredProbeListener is a TCP listener, so that the Server defers its
// accepts, whose connections count their read deadlines.
type deferredProbeListener struct {
	*net.TCPListener
	deadlines atomic.Int64
}

func listenDeferredProbe(t *testing.T) *deferredProbeListener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &deferredProbeListener{TCPListener: raw.(*net.TCPListener)}
}

func (l *deferredProbeListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineProbeConn{Conn: c, deadlines: &l.deadlines}, nil
}

// undefer turns the kernel's deferral off behind the Server's back: the
// next connections come as one handed over silent after deferSeconds.
func (l *deferredProbeListener) undefer(t *testing.T) {
	t.Helper()
	rc, err := l.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 0) })
	if serr != nil {
		t.Fatal(serr)
	}
}

type deadlineProbeConn struct {
	net.Conn
	deadlines *atomic.Int64
}

func (c *deadlineProbeConn) SetReadDeadline(t time.Time) error {
	c.deadlines.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// Unwrap is the TCP connection, for the socket underneath (rawConnOf).
func (c *deadlineProbeConn) Unwrap() net.Conn { return c.Conn }
