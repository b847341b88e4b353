package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	addr := slowBlockingBackend(t, 2*time.Millisecond)
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
// blocking read(2) calls, so that it makes exactly one per request head.
func slowBlockingBackend(t *testing.T, delay time.Duration) string {
	ln := listenTCP(t)
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
			go answerBlocking(f, delay)
		}
	}()
	return ln.Addr().String()
}

func answerBlocking(f *os.File, delay time.Duration) {
	defer f.Close()
	fd := int(f.Fd()) // Fd puts the descriptor in blocking mode
	buf := make([]byte, 64<<10)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	for {
		n, err := syscall.Read(fd, buf)
		if n <= 0 || err != nil || !bytes.HasSuffix(buf[:n], []byte("\r\n\r\n")) {
			return // a head in two reads would make the count wrong: stop loudly
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

// readCalls is the process's count of read(2) calls so far.
func readCalls(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io:", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no syscr in /proc/self/io")
	return 0
}
