package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/baton-dev/baton/pkg/internal/sendread"
)

// Issue 14: a keep-alive response sent before the wait for the next
// request left that wait's first read(2) to find nothing; held and sent
// from within the wait, it costs no read of its own. A blocking client
// reads once per response, so the process reads twice per request where
// it read three times.
func TestKeepAliveResponseCostsNoReadOfItsOwn(t *testing.T) {
	s := startParking(t, Options{}, nil)
	fd := dialBlocking(t, s.Addr("http").(*net.TCPAddr))
	assertReadsPerRequest(t, blockingConn{fd}, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\nhi /r")
}

// A request with a body the handler read to its end costs no read of its
// own either: its response is held as a bodiless one's is.
func TestKeepAliveResponseToABodyCostsNoReadOfItsOwn(t *testing.T) {
	s := startBodyReader(t, nil)
	fd := dialBlocking(t, s.Addr("http").(*net.TCPAddr))
	assertReadsPerRequest(t, blockingConn{fd}, "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "\r\n\r\nread 5")
}

// startBodyReader serves a handler that reads the request body whole and
// answers "read N", N its length.
func startBodyReader(t *testing.T, tlsConf *tls.Config) *Server {
	t.Helper()
	s := serveHandler(t, tlsConf, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		io.WriteString(w, "read "+strconv.Itoa(len(b)))
	}))
	return s
}

// assertReadsPerRequest makes keep-alive requests over c, whose reads
// are one read(2) each, and fails if the process read more than twice
// per request: the server's wait and the client's read of the response.
func assertReadsPerRequest(t *testing.T, c io.ReadWriter, req, tail string) {
	t.Helper()
	buf := make([]byte, 4096)
	exchange := func() {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		readResponse(t, c, buf, tail)
	}
	for range graceAfter + 1 { // from then on the wait holds the buffers and reads
		exchange()
	}
	const n = 300
	before := readCalls(t)
	for range n {
		exchange()
		// Think time, as most clients have: the next request finds the
		// server waiting, rather than racing its response's write. The
		// server then reads once per request with the response held,
		// twice without; either way, it never reads more often for it.
		// In a system call: time.Sleep would wake Go's poller with a
		// read(2) of its own.
		_ = unix.Nanosleep(&unix.Timespec{Nsec: 200_000}, nil)
	}
	perRequest := float64(readCalls(t)-before) / n
	t.Logf("%.2f read(2) calls per request", perRequest)
	if perRequest > 2.5 {
		t.Errorf("%.2f read(2) calls per keep-alive request; want 2 (the server's and the client's)", perRequest)
	}
}

// dialBlocking connects a blocking socket, outside Go's poller: its reads
// wait in read(2) and so count once each.
func dialBlocking(t *testing.T, addr *net.TCPAddr) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval(int64(parkSafety))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal(err)
	}
	return fd
}

// readResponse reads until what came ends with tail.
func readResponse(t *testing.T, c io.Reader, buf []byte, tail string) {
	t.Helper()
	got := 0
	for !bytes.HasSuffix(buf[:got], []byte(tail)) {
		m, err := c.Read(buf[got:])
		if err != nil || m <= 0 {
			t.Fatalf("read after %q: %d, %v", buf[:got], m, err)
		}
		got += m
	}
}

// readCalls is the process's read(2)-like system calls so far.
func readCalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no syscr in /proc/self/io")
	return 0
}

// A response held for the wait is sent before the connection turns idle:
// a drain closing idle connections as fast as it can loses none of them.
// Every response a handler made reaches its client.
func TestDrainLosesNoHeldResponse(t *testing.T) {
	assertDrainLosesNoResponse(t, nil, nil, 400)
}

// assertDrainLosesNoResponse has clients make perClient requests each,
// over TLS if serverConf is set, while a drain closes idle connections.
func assertDrainLosesNoResponse(t *testing.T, serverConf, clientConf *tls.Config, perClient int) {
	var handled atomic.Int64
	s := serveHandler(t, serverConf, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		io.WriteString(w, "hi")
	}))
	stop := make(chan struct{})
	var closer sync.WaitGroup
	closer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.served.each(func(c served) { c.closeIfIdle() })
			}
		}
	})
	var received atomic.Int64
	var clients sync.WaitGroup
	for range 4 {
		clients.Go(func() { received.Add(int64(keepAsking(t, s.Addr("http").String(), clientConf, perClient))) })
	}
	clients.Wait()
	close(stop)
	closer.Wait()
	if h, r := handled.Load(), received.Load(); h != r {
		t.Fatalf("handlers answered %d requests, clients received %d responses", h, r)
	}
}

// keepAsking makes requests on keep-alive connections, dialling again
// whenever the server closed one, until it has want responses.
func keepAsking(t *testing.T, addr string, clientConf *tls.Config, want int) int {
	got := 0
	for got < want {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return got
		}
		if clientConf != nil {
			c = tls.Client(c, clientConf)
		}
		c.SetDeadline(time.Now().Add(parkSafety))
		rd := bufio.NewReader(c)
		for ; got < want; got++ {
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				break
			}
			resp, err := http.ReadResponse(rd, nil)
			if err != nil {
				break // closed while idle: the request was not taken
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != "hi" {
				t.Errorf("body %q, %v", body, err)
			}
		}
		c.Close()
	}
	return got
}

// Requests pipelined after keep-alive ones are answered in order: a
// response with a request behind it is sent at once, the last is held
// (over TLS: its last records).
func TestPipelinedAfterKeepAliveAnsweredInOrder(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	for name, confs := range map[string][2]*tls.Config{"cleartext": {}, "TLS": {serverConf, clientConf}} {
		t.Run(name, func(t *testing.T) {
			s := startParking(t, Options{}, confs[0])
			c := dialIdle(t, s, confs[1])
			for range graceAfter {
				c.roundTrip(t, "GET /k HTTP/1.1\r\nHost: x\r\n\r\n", "/k")
			}
			c.roundTrip(t, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n", "/a", "/b", "/c")
			c.roundTrip(t, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n", "/d")
		})
	}
}

// A handler's Flush sends at once (server-sent events, long polls): only
// the response's last bytes, after the handler returned, are held.
func TestFlushSendsAtOnceOnKeepAlive(t *testing.T) {
	seen := make(chan struct{})
	s := serveHandler(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			io.WriteString(w, "hi "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		<-seen
		io.WriteString(w, "data: 2\n\n")
	}))
	c := dialIdle(t, s, nil)
	for range graceAfter {
		c.roundTrip(t, "GET /k HTTP/1.1\r\nHost: x\r\n\r\n", "/k")
	}
	io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	event := make([]byte, len("data: 1\n\n"))
	if _, err := io.ReadFull(resp.Body, event); err != nil || string(event) != "data: 1\n\n" {
		t.Fatalf("first event %q, %v", event, err)
	}
	close(seen)
	if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "data: 2\n\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	c.roundTrip(t, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", "/after")
}

// A handler hijacks a keep-alive connection whose last response was held:
// it went out before the request that hijacks was read.
func TestHijackAfterKeepAlive(t *testing.T) {
	s := serveHandler(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tunnel" {
			io.WriteString(w, "hi "+r.URL.Path)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo " + line)
		rw.Flush()
	}))
	c := dialIdle(t, s, nil)
	for range graceAfter + 1 {
		c.roundTrip(t, "GET /k HTTP/1.1\r\nHost: x\r\n\r\n", "/k")
	}
	io.WriteString(c, "GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(c.rd, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v, %v", resp, err)
	}
	io.WriteString(c, "ping\n")
	if line, err := c.rd.ReadString('\n'); err != nil || line != "echo ping\n" {
		t.Fatalf("tunnel: %q, %v", line, err)
	}
}

// A response larger than the socket's send buffer goes out whole on a
// keep-alive connection, its last bytes held and sent by the wait.
func TestLargeKeepAliveResponseOverSmallSendBuffer(t *testing.T) {
	assertLargeResponsesOverSmallSendBuffer(t, nil, func(c net.Conn) net.Conn { return c })
}

// assertLargeResponsesOverSmallSendBuffer makes keep-alive requests for a
// response larger than the server's socket send buffer, over what client
// makes of the TCP connection.
func assertLargeResponsesOverSmallSendBuffer(t *testing.T, serverConf *tls.Config, client func(net.Conn) net.Conn) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 200_000/16)
	body = append(body, "tail"...) // not a multiple of the writer's buffer: some is held
	s := serveHandler(t, serverConf, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSendBuffer(t, w.(*response).c.rawConn(), 4096)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	raw, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	c := client(raw)
	defer c.Close()
	c.SetDeadline(time.Now().Add(parkSafety))
	rd := bufio.NewReader(c)
	for i := range graceAfter + 3 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("request %d: %d bytes of %d, %v", i, len(got), len(body), err)
		}
	}
}

func setSendBuffer(t *testing.T, rc interface {
	Control(func(uintptr)) error
}, n int) {
	rc.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, n); err != nil {
			t.Error(err)
		}
	})
}

// What a full send buffer leaves unsent is sent by the blocking write,
// before the read: nothing is lost, nothing reordered.
func TestHeldBytesOverAFullSendBuffer(t *testing.T) {
	server, client := tcpPair(t)
	rc, _ := server.(*net.TCPConn).SyscallConn()
	setSendBuffer(t, rc, 4096)
	filled := fillSendBuffer(t, server)
	var state atomic.Int32
	out := sendThenRead{conn: server, sock: sendread.Socket{Raw: rc}, state: &state}
	held := bytes.Repeat([]byte("h"), 3000)
	out.hold = true
	out.Write(held)
	read := make(chan string, 1)
	go func() {
		p := make([]byte, 16)
		n, err := out.read(p)
		if err != nil {
			t.Error(err)
		}
		read <- string(p[:n])
	}()
	client.SetDeadline(time.Now().Add(parkSafety))
	got := make([]byte, filled+len(held))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[filled:], held) {
		t.Fatalf("the held bytes came as %q", got[filled:][:32])
	}
	client.Write([]byte("next"))
	if r := <-read; r != "next" || state.Load() != connIdle {
		t.Fatalf("read %q, state %d", r, state.Load())
	}
}

// fillSendBuffer writes until the socket takes no more, and returns how
// much it took.
func fillSendBuffer(t *testing.T, c net.Conn) int {
	chunk := make([]byte, 1024)
	total := 0
	for {
		c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := c.Write(chunk)
		total += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.SetWriteDeadline(time.Time{})
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A read deadline passed before the wait: what is held is sent by the
// blocking write, and the wait reports the deadline.
func TestHeldBytesWithTheDeadlinePassed(t *testing.T) {
	server, client := tcpPair(t)
	rc, _ := server.(*net.TCPConn).SyscallConn()
	var state atomic.Int32
	out := sendThenRead{conn: server, sock: sendread.Socket{Raw: rc}, state: &state}
	out.hold = true
	out.Write([]byte("held"))
	server.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := out.read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v; want the deadline", err)
	}
	client.SetDeadline(time.Now().Add(parkSafety))
	got := make([]byte, 4)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "held" || state.Load() != connIdle {
		t.Fatalf("%q, %v, state %d", got, err, state.Load())
	}
}
