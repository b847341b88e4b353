package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// A request without a body and its response cost the proxy one read(2):
// the head is written inside the wait for the answer (see sendThenRead),
// rather than written and then followed by a read that finds nothing yet
// and a second one after the wait. The count is the process's read(2)
// calls (/proc/self/io syscr); the backend reads with blocking reads on a
// thread of its own, one per request, and answers a while later so that
// the answer is never in before the proxy looks. Reads of other tests'
// leftovers only add, so the least of a few batches counts.
func TestH1ExchangeReadsTheAnswerOnce(t *testing.T) {
	addr, _ := slowBlockingBackend(t, 2*time.Millisecond)
	c := newH1Client(dialTCP(addr), peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	roundTripOK(t, c, addr) // dials
	const n, batches = 40, 4
	least := math.MaxInt
	for range batches {
		before := readCalls(t)
		for range n {
			roundTripOK(t, c, addr)
		}
		least = min(least, readCalls(t)-before)
	}
	// Per exchange: the backend's one read and the proxy's; the old way
	// read 3 (the proxy's empty read and its real one).
	perExchange := float64(least) / n
	t.Logf("%.2f read(2) calls per exchange", perExchange)
	if perExchange > 2.5 {
		t.Errorf("%.2f read(2) calls per exchange, want 2 (the backend's and one of the proxy's)", perExchange)
	}
}

// A small POST whose body is all in (it says so: see bufferedBody) goes
// with its head in one write, made inside the wait for the answer as a
// bodiless request's head is: per exchange the proxy writes once and
// reads once, and the backend reads the request in one read. The old way
// wrote the head, then the body, then read nothing (EAGAIN) before it
// waited: 3 writes and 3 reads with the backend's. Counted as in
// TestH1ExchangeReadsTheAnswerOnce.
func TestH1ExchangeSendsASmallBodyWithItsHead(t *testing.T) {
	addr, split := slowBlockingBackend(t, 2*time.Millisecond)
	c := newH1Client(dialTCP(addr), peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	const body = `{"id":12345,"name":"a small JSON body","tags":["api","post"],"ok":true}`
	post := func() { roundTripWithBody(t, c, addr, wholeBody(body), len(body)) }
	post() // dials
	const n, batches = 40, 4
	leastReads, leastWrites := math.MaxInt, math.MaxInt
	for range batches {
		reads, writes := ioCalls(t)
		for range n {
			post()
		}
		r, w := ioCalls(t)
		leastReads, leastWrites = min(leastReads, r-reads), min(leastWrites, w-writes)
	}
	reads, writes := float64(leastReads)/n, float64(leastWrites)/n
	t.Logf("per exchange: %.2f read(2), %.2f write(2) calls; %d requests came in more than one read", reads, writes, split.Load())
	if reads > 2.5 || writes > 2.5 {
		t.Errorf("per exchange: %.2f read(2) and %.2f write(2) calls, want 2 and 2 (the backend's and one of the proxy's each)", reads, writes)
	}
	if split.Load() != 0 {
		t.Errorf("%d requests reached the backend in more than one read, want none: the head and body in one", split.Load())
	}
}

// A body that says it is all in but is larger than maxInlineRequest is
// not read before the head goes: it streams, as any large upload does.
// The body's first read waits until the peer has the head.
func TestH1ExchangeStreamsABodyLargerThanTheBound(t *testing.T) {
	const size = 64 << 10 // > maxInlineRequest
	headSeen := make(chan struct{})
	addr := bodyEchoBackend(t, func() { close(headSeen) })
	c := newH1Client(dialTCP(addr), peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	body := &gatedBody{ReadCloser: wholeBody(strings.Repeat("b", size)), gate: headSeen}
	if got := roundTripWithBody(t, c, addr, body, size); got != strconv.Itoa(size) {
		t.Errorf("the peer read %s body bytes, want %d", got, size)
	}
}

// A request with Expect: 100-continue sends its body after the peer's
// go-ahead, however small and ready the body is: the peer reads the head
// alone, then answers 100 and reads the body.
func TestH1ExchangeKeepsTheBodyOfExpectContinueForTheGoAhead(t *testing.T) {
	headSeen := make(chan struct{})
	addr := bodyEchoBackend(t, func() { close(headSeen) })
	c := newH1Client(dialTCP(addr), peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	body := &gatedBody{ReadCloser: wholeBody("hello"), gate: headSeen}
	req, _ := http.NewRequest("POST", "http://"+addr+"/", body)
	req.ContentLength = 5
	req.Header.Set("Expect", "100-continue")
	if got := roundTripRequest(t, c, req); got != "5" {
		t.Errorf("the peer read %s body bytes, want 5", got)
	}
}

// A request retried on a new connection because its reused one took no
// byte of it (closed while idle) sends the body it had read and inlined
// again: the client's body cannot be read twice.
func TestH1ExchangeResendsAnInlinedBodyOnANewConnection(t *testing.T) {
	addr := bodyEchoBackend(t, nil)
	var dials atomic.Int64
	first := new(deadAfterFirstExchange)
	dial := func(ctx context.Context) (net.Conn, error) {
		conn, err := dialTCP(addr)(ctx)
		if err != nil || dials.Add(1) > 1 {
			return conn, err
		}
		first.Conn = conn
		return first, nil
	}
	c := newH1Client(dial, peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	if got := roundTripWithBody(t, c, addr, wholeBody("first"), 5); got != "5" {
		t.Fatalf("first exchange: the peer read %s body bytes, want 5", got)
	}
	first.dead.Store(true)
	if got := roundTripWithBody(t, c, addr, wholeBody("again"), 5); got != "5" || dials.Load() != 2 {
		t.Errorf("after the pooled connection died: the peer read %s body bytes on %d connections, want 5 on 2", got, dials.Load())
	}
}

// wholeBody is a request body all in memory that says so, as the HTTP/1
// server's does when the client sent it with the head.
func wholeBody(s string) io.ReadCloser { return &saysBuffered{Reader: strings.NewReader(s)} }

type saysBuffered struct{ *strings.Reader }

func (*saysBuffered) Close() error   { return nil }
func (*saysBuffered) Buffered() bool { return true }

// gatedBody is a wholeBody whose first read waits for gate (at most
// 10 s, then fails): were it read before the head went, the head would
// never go.
type gatedBody struct {
	io.ReadCloser
	gate   <-chan struct{}
	opened bool
}

func (*gatedBody) Buffered() bool { return true }

func (b *gatedBody) Read(p []byte) (int, error) {
	if !b.opened {
		select {
		case <-b.gate:
			b.opened = true
		case <-time.After(10 * time.Second):
			return 0, errors.New("the peer never got the head alone")
		}
	}
	return b.ReadCloser.Read(p)
}

// deadAfterFirstExchange is a connection the peer closed while it idled
// in the pool, without the client noticing (it cannot be polled): once
// dead, a write takes no byte.
type deadAfterFirstExchange struct {
	net.Conn
	dead atomic.Bool
}

func (c *deadAfterFirstExchange) Write(p []byte) (int, error) {
	if c.dead.Load() {
		return 0, syscall.EPIPE
	}
	return c.Conn.Write(p)
}

// bodyEchoBackend answers each request with the length of its body. If
// headSeen is not nil, it is called on the first request's head, before
// its body is read (with Expect: 100-continue, before 100 Continue goes),
// and that head must come alone: with its body, it fails the request.
func bodyEchoBackend(t *testing.T, headSeen func()) string {
	ln := listenTCP(t)
	go func() {
		for first := true; ; {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go echoBodyLengths(conn, first, headSeen)
			first = false
		}
	}()
	return ln.Addr().String()
}

func echoBodyLengths(conn net.Conn, first bool, headSeen func()) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if first && headSeen != nil {
			first = false
			if br.Buffered() > 0 {
				return // the body came with the head
			}
			headSeen()
		}
		if req.Header.Get("Expect") == "100-continue" {
			io.WriteString(conn, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		n, _ := io.Copy(io.Discard, req.Body)
		l := strconv.FormatInt(n, 10)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(l))+"\r\n\r\n"+l)
	}
}

func roundTripWithBody(t *testing.T, c *h1Client, addr string, body io.ReadCloser, length int) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/", body)
	req.ContentLength = int64(length)
	req.Header.Set("Content-Type", "application/json")
	return roundTripRequest(t, c, req)
}

func roundTripRequest(t *testing.T, c *h1Client, req *http.Request) string {
	t.Helper()
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A head larger than the socket's send buffer, which the deferred write
// cannot send at once, goes whole all the same, and the answer comes back.
func TestH1ExchangeSendsAHeadLargerThanTheSendBuffer(t *testing.T) {
	got := make(chan int, 1)
	ln := listenTCP(t)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		time.Sleep(50 * time.Millisecond) // the proxy's send buffer fills meanwhile
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			got <- -1
			return
		}
		got <- len(req.Header.Get("X-Big"))
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}()
	dial := func(ctx context.Context) (net.Conn, error) {
		conn, err := dialTCP(ln.Addr().String())(ctx)
		if err == nil {
			_ = conn.(*net.TCPConn).SetWriteBuffer(4096)
		}
		return conn, err
	}
	c := newH1Client(dial, peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	const size = 512 << 10
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("b", size))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := <-got; n != size || string(body) != "ok" {
		t.Errorf("the peer read a %d-byte field (want %d), the proxy read %q (want ok)", n, size, body)
	}
}

func roundTripOK(t *testing.T, c *h1Client, addr string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("body %q, want ok", b)
	}
	resp.Body.Close()
}

func dialTCP(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func listenTCP(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// slowBlockingBackend answers each request "ok" after delay, reading with
// blocking read(2) calls, so that it makes exactly one per request that
// comes in one piece. It counts the requests that took more reads.
func slowBlockingBackend(t *testing.T, delay time.Duration) (addr string, split *atomic.Int64) {
	ln := listenTCP(t)
	split = new(atomic.Int64)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f, err := conn.(*net.TCPConn).File()
			conn.Close()
			if err != nil {
				return
			}
			go answerBlocking(f, delay, split)
		}
	}()
	return ln.Addr().String(), split
}

func answerBlocking(f *os.File, delay time.Duration, split *atomic.Int64) {
	defer f.Close()
	fd := int(f.Fd()) // Fd puts the descriptor in blocking mode
	buf := make([]byte, 64<<10)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	for {
		n, reads := 0, 0
		for reads == 0 || !wholeRequest(buf[:n]) {
			got, err := syscall.Read(fd, buf[n:])
			if got <= 0 || err != nil {
				return
			}
			n, reads = n+got, reads+1
		}
		if reads > 1 {
			split.Add(1)
		}
		// A Go timer would wake the poller through its eventfd, a read(2)
		// of the runtime's that the count would take for the proxy's.
		ts := syscall.NsecToTimespec(delay.Nanoseconds())
		_ = syscall.Nanosleep(&ts, nil)
		if _, err := syscall.Write(fd, resp); err != nil {
			return
		}
	}
}

// wholeRequest: b is one request, its head and the body its
// Content-Length (if any) announces, and nothing more.
func wholeRequest(b []byte) bool {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	length := 0
	if _, v, ok := bytes.Cut(b[:end], []byte("\r\nContent-Length: ")); ok {
		v, _, _ = bytes.Cut(v, []byte("\r\n"))
		length, _ = strconv.Atoi(string(v))
	}
	return len(b) >= end+4+length
}

// readCalls is the process's count of read(2) calls so far.
func readCalls(t *testing.T) int {
	reads, _ := ioCalls(t)
	return reads
}

// ioCalls is the process's count of read(2) and write(2) calls so far.
func ioCalls(t *testing.T) (reads, writes int) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io:", err)
	}
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			reads, _ = strconv.Atoi(v)
			found++
		}
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, _ = strconv.Atoi(v)
			found++
		}
	}
	if found != 2 {
		t.Fatal("no syscr or syscw in /proc/self/io")
	}
	return reads, writes
}

// slowBody is a body that takes pause before its first byte: an upload
// slower than the response timeout.
type slowBody struct {
	io.Reader
	pause  time.Duration
	paused bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.paused {
		b.paused = true
		time.Sleep(b.pause) // the client's slowness, which the response timeout must not count
	}
	return b.Reader.Read(p)
}

func (*slowBody) Close() error { return nil }

// The response timeout of a request on a pooled connection counts from
// when the request went out: a head deferred to the response's read
// shares the clock read of the connection's take (armResponseDeadline),
// but an upload written first, slower than the timeout, is not the
// peer's delay.
func TestH1ResponseTimeoutCountsFromAfterASlowUpload(t *testing.T) {
	const limit = 100 * time.Millisecond
	addr := bodyEchoBackend(t, nil)
	c := newH1Client(dialTCP(addr), peerKey{idleTimeout: time.Hour, responseTimeout: limit}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	if got := roundTripWithBody(t, c, addr, wholeBody("ab"), 2); got != "2" { // pools the connection
		t.Fatalf("first exchange: %q", got)
	}
	const size = 64 << 10 // > maxInlineRequest: it streams after its head
	body := &slowBody{Reader: strings.NewReader(strings.Repeat("b", size)), pause: 3 * limit}
	if got := roundTripWithBody(t, c, addr, body, size); got != strconv.Itoa(size) {
		t.Errorf("the peer read %s body bytes, want %d", got, size)
	}
}

// A body read to its end pools its connection as idle since the clock
// reading the reader hands it (readAt), or since its own when it hands
// none: never later than the end, nor before the exchange.
func TestH1BodyEndStampsTheIdleConnection(t *testing.T) {
	addr, _ := slowBlockingBackend(t, 0)
	c := newH1Client(dialTCP(addr), peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 1})
	t.Cleanup(c.CloseIdleConnections)
	for _, handed := range []bool{true, false} {
		before := monoclock.Nanos()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b := resp.Body.(*h1Body)
		pc, stamp := b.pc, int64(0)
		if handed {
			stamp = monoclock.Nanos()
		}
		if n, err := b.readAt(make([]byte, 8), stamp); n != 2 || err != io.EOF {
			t.Fatalf("read %d, %v; want the whole body and EOF", n, err)
		}
		after := monoclock.Nanos()
		switch {
		case handed && pc.idleSince != stamp:
			t.Errorf("idle since %d, want the reading handed, %d", pc.idleSince, stamp)
		case pc.idleSince < before || pc.idleSince > after:
			t.Errorf("idle since %d, want within the exchange [%d, %d]", pc.idleSince, before, after)
		}
		resp.Body.Close()
	}
}
