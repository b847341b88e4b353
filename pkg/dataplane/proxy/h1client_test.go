package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/internal/nettest"
)

// An upstream connection is used again only after an exchange that ended
// cleanly and left it open by the rules of HTTP/1.1: not after Connection:
// close, nor after an HTTP/1.0 response (nginx does not keep those either),
// nor after a body delimited by the close. Responses without a body (HEAD,
// 204, 304) end with their head, whatever length they declare, and 1xx
// responses before the final one are skipped.
func TestH1ClientReusesConnectionOnlyAfterCleanExchange(t *testing.T) {
	tests := map[string]struct {
		method, response string
		closeAfter       bool
		status           int
		body             string
		connections      int64
	}{
		"content-length":   {"GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", 1},
		"chunked":          {"GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, 200, "ok", 1},
		"connection close": {"GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", 2},
		"HTTP/1.0 keep-alive": {"GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
			false, 200, "ok", 2},
		"delimited by close": {"GET", "HTTP/1.1 200 OK\r\n\r\nall of it", true, 200, "all of it", 2},
		"HEAD with a length": {"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, 200, "", 1},
		"204":                {"GET", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "", 1},
		"304 with a length":  {"GET", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\nContent-Length: 5\r\n\r\n", false, 304, "", 1},
		"103 before the answer": {"GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			backend := newScriptedBackend(t, answerEach(func(int64, *http.Request, []byte) (string, bool) {
				return tt.response, tt.closeAfter
			}))
			r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
			client := h1Client()
			for i := range 2 {
				resp, body := get(t, client, mustRequest(t, tt.method, r.url, nil))
				if resp.StatusCode != tt.status || body != tt.body {
					t.Fatalf("request %d: %d %q, want %d %q", i+1, resp.StatusCode, body, tt.status, tt.body)
				}
			}
			if n := backend.accepted.Load(); n != tt.connections {
				t.Errorf("two requests took %d upstream connections, want %d", n, tt.connections)
			}
		})
	}
}

// The request head reaches the peer in one write, so in one read.
func TestH1ClientWritesRequestHeadInOneWrite(t *testing.T) {
	firstRead := make(chan string, 1)
	backend := newScriptedBackend(t, func(_ int64, c net.Conn, _ *bufio.Reader) {
		buf := make([]byte, 64<<10)
		n, _ := c.Read(buf)
		firstRead <- string(buf[:n])
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	req := mustRequest(t, "GET", r.url+"/path?q=1", nil)
	for i := range 20 {
		req.Header.Add("X-Field", strings.Repeat("v", i))
	}
	get(t, h1Client(), req)
	head := within(t, "the request head", safety, firstRead)
	if !strings.HasPrefix(head, "GET /path?q=1 HTTP/1.1\r\n") || !strings.HasSuffix(head, "\r\n\r\n") || strings.Count(head, "X-Field:") != 20 {
		t.Errorf("first read of the upstream request: %q, want the whole head", head)
	}
}

// A request body of unknown length goes upstream chunked, as it arrives
// (the peer has the first part before the client sends the second), and
// its trailer follows it.
func TestH1ClientStreamsChunkedRequestBodyWithTrailer(t *testing.T) {
	backend, firstPart, got := firstPartBackend(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	pr, pw := io.Pipe()
	req := mustRequest(t, "POST", r.url, pr)
	req.Trailer = http.Header{"X-Sum": nil}
	go func() {
		io.WriteString(pw, "first")
		select {
		case <-firstPart:
		case <-time.After(safety):
		}
		req.Trailer.Set("X-Sum", "42")
		io.WriteString(pw, " second")
		pw.Close()
	}()
	if resp, _ := get(t, h1Client(), req); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := within(t, "the upload", safety, got)
	if s.te != "chunked" || s.body != "first second" || s.trailer != "42" {
		t.Errorf("peer got Transfer-Encoding %q, body %q, trailer X-Sum %q", s.te, s.body, s.trailer)
	}
}

// A small request body that came whole with its head goes upstream in
// the same write as the head (see inlinesBody), so in one TCP segment:
// request after request on a kept-alive connection, the peer reads both
// at once and counts one data segment per request (TCP_INFO), where the
// head and the body written apart are two.
func TestH1ClientSendsAWholeSmallBodyWithItsHead(t *testing.T) {
	const body, n = `{"id":1,"name":"small"}`, 20
	reads := make(chan string, 1)
	segments := make(chan uint32, 1)
	backend := newScriptedBackend(t, func(_ int64, c net.Conn, _ *bufio.Reader) {
		buf := make([]byte, 64<<10)
		for i := range n {
			got, err := c.Read(buf)
			if err != nil {
				return
			}
			reads <- string(buf[:got])
			if i == n-1 {
				segments <- dataSegmentsIn(c)
			}
			io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	c, br := dialRaw(t, r.addr, safety)
	for i := range n {
		io.WriteString(c, "POST /api HTTP/1.1\r\nHost: a.test\r\nContent-Type: application/json\r\nContent-Length: "+
			strconv.Itoa(len(body))+"\r\n\r\n"+body)
		if first := within(t, "the upstream request", safety, reads); !strings.HasPrefix(first, "POST /api ") || !strings.HasSuffix(first, "\r\n\r\n"+body) {
			t.Fatalf("request %d: the peer's first read was %q, want the head and the body", i, first)
		}
		if i == n-1 {
			if segs := within(t, "the peer's segment count", safety, segments); segs != n {
				t.Errorf("the peer received %d data segments for %d requests, want one each", segs, n)
			}
		}
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("request %d: %v %v", i, resp, err)
		}
	}
}

// dataSegmentsIn is how many TCP segments with data c received so far.
func dataSegmentsIn(c net.Conn) uint32 {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return 0
	}
	var segs uint32
	_ = raw.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			segs = info.Data_segs_in
		}
	})
	return segs
}

// A request body of known length that is still coming when the request
// goes upstream streams as it arrives: the peer has the first part before
// the client sends the rest. Only a body that is all in goes with the head.
func TestH1ClientStreamsALengthBodyStillComing(t *testing.T) {
	backend, firstPart, got := firstPartBackend(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	c, br := dialRaw(t, r.addr, safety)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 12\r\n\r\nfirst")
	within(t, "the first part of the body upstream", safety, firstPart)
	io.WriteString(c, " second")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if s := within(t, "the upload", safety, got); s.body != "first second" {
		t.Errorf("the peer got %q", s.body)
	}
}

// bodySeen is what a peer saw of a request body.
type bodySeen struct{ te, body, trailer string }

// firstPartBackend answers one request once it has read its body in two
// steps: firstPart closes when the body's first five bytes came, then got
// tells what the whole body was.
func firstPartBackend(t *testing.T) (*scriptedBackend, <-chan struct{}, <-chan bodySeen) {
	firstPart, got := make(chan struct{}), make(chan bodySeen, 1)
	backend := newScriptedBackend(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		part := make([]byte, 5)
		if _, err := io.ReadFull(req.Body, part); err != nil {
			return
		}
		close(firstPart)
		rest, _ := io.ReadAll(req.Body)
		got <- bodySeen{strings.Join(req.TransferEncoding, ","), string(part) + string(rest), req.Trailer.Get("X-Sum")}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	return backend, firstPart, got
}

// Trailers of a chunked response reach the client, declared or not.
func TestH1ClientForwardsResponseTrailers(t *testing.T) {
	backend := newScriptedBackend(t, answerEach(func(int64, *http.Request, []byte) (string, bool) {
		return "HTTP/1.1 200 OK\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"4\r\nbody\r\n0\r\nX-Checksum: abc\r\nX-Late: yes\r\n\r\n", false
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	resp, body := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if body != "body" || resp.Trailer.Get("X-Checksum") != "abc" || resp.Trailer.Get("X-Late") != "yes" {
		t.Errorf("got body %q, trailer %v", body, resp.Trailer)
	}
}

// Expect: 100-continue waits for the peer: its 100 lets the body go; a
// final answer instead is forwarded without the body, and the connection,
// which still owes the announced body, is not used again.
func TestH1ClientExpectContinue(t *testing.T) {
	backend := newScriptedBackend(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/refuse" {
				io.WriteString(c, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
				continue // keeps the connection: only the client knows it is spoiled
			}
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			body, _ := io.ReadAll(req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+string(body))
		}
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	c, br := dialRaw(t, r.addr, safety)
	io.WriteString(c, "POST /refuse HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusExpectationFailed {
		t.Fatalf("refused upload: %v, %v; want 417 and no 100 Continue", resp, err)
	}
	waitFor(t, "the connection that owes a body to close", func() bool { return backend.closed.Load() == 1 })

	c2, br2 := dialRaw(t, r.addr, safety)
	io.WriteString(c2, "POST /accept HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	interim, err := http.ReadResponse(br2, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("before sending the body: %v, %v; want 100 Continue", interim, err)
	}
	io.WriteString(c2, "hello")
	resp, err := http.ReadResponse(br2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("accepted upload: %d %q", resp.StatusCode, body)
	}
}

// A pooled connection the peer closed while it was idle is not used: the
// request, even one that is not safe to repeat, goes out once on a new one.
func TestH1ClientSkipsConnectionClosedWhileIdle(t *testing.T) {
	closed := make(chan struct{}, 1)
	backend := newScriptedBackend(t, func(n int64, c net.Conn, br *bufio.Reader) {
		answerEach(func(int64, *http.Request, []byte) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", n == 1
		})(n, c, br)
		if n == 1 {
			c.Close()
			closed <- struct{}{}
		}
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	client := h1Client()
	get(t, client, mustRequest(t, "GET", r.url, nil))
	within(t, "the peer to close its idle connection", safety, closed)
	if resp, _ := get(t, client, mustRequest(t, "POST", r.url, strings.NewReader("once"))); resp.StatusCode != 200 {
		t.Fatalf("POST after the peer closed the pooled connection: status %d, want 200", resp.StatusCode)
	}
	if n := backend.accepted.Load(); n != 2 {
		t.Errorf("%d upstream connections, want 2", n)
	}
}

// A response read whole with its head leaves its read deadline on the
// connection (clearing it costs a timer per request); a connection that
// idled past that deadline is still used again, for a request that is
// not safe to repeat too (which polls the idle connection first).
func TestH1ClientReusesConnectionIdlePastResponseTimeout(t *testing.T) {
	const responseTimeout = 20 * time.Millisecond
	backend := newScriptedBackend(t, answerEach(func(int64, *http.Request, []byte) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	}))
	peer := backend.peer
	peer.ResponseTimeout = responseTimeout
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
	client := h1Client()
	get(t, client, mustRequest(t, "GET", r.url, nil))
	time.Sleep(5 * responseTimeout) // the idle time is what is tested
	if resp, body := get(t, client, mustRequest(t, "POST", r.url, strings.NewReader("x"))); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("POST on the connection idle past the response timeout: %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
	if n := backend.accepted.Load(); n != 1 {
		t.Errorf("%d upstream connections, want 1", n)
	}
}

// A reused connection that the peer drops on receiving the next request
// (it timed out its idle connection just then) costs a safe request
// nothing: it is sent again on a new connection. A request that is not
// safe to repeat gets a 502 and is not sent twice.
func TestH1ClientRetriesSafeRequestOnDroppedReusedConnection(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]int{}
			backend := newScriptedBackend(t, answerEach(func(conn int64, req *http.Request, _ []byte) (string, bool) {
				mu.Lock()
				seen[req.URL.Path]++
				mu.Unlock()
				if conn == 1 && req.URL.Path == "/second" {
					return "", false // hangs up without an answer
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false
			}))
			r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
			client := h1Client()
			get(t, client, mustRequest(t, "GET", r.url+"/first", nil))
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader("not twice")
			}
			resp, _ := get(t, client, mustRequest(t, method, r.url+"/second", body))
			want, sent := http.StatusOK, 2
			if method == "POST" {
				want, sent = http.StatusBadGateway, 1
			}
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != want || seen["/second"] != sent {
				t.Errorf("status %d after the peer sent it %d times, want %d after %d", resp.StatusCode, seen["/second"], want, sent)
			}
		})
	}
}

// At most MaxIdleConnsPerPeer connections stay pooled after a burst, and
// the pooled ones close after IdleConnTimeout.
func TestH1ClientIdlePoolLimits(t *testing.T) {
	const burst, maxIdle = 5, 2
	var arrived sync.WaitGroup
	arrived.Add(burst)
	backend := newScriptedBackend(t, func(n int64, c net.Conn, br *bufio.Reader) {
		first := true
		answerEach(func(int64, *http.Request, []byte) (string, bool) {
			if first { // answer only once the whole burst is in, so it needs burst connections
				first = false
				arrived.Done()
				arrived.Wait()
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false
		})(n, c, br)
	})
	idle := 300 * time.Millisecond
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{MaxIdleConnsPerPeer: maxIdle, IdleConnTimeout: idle}, nil)
	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h1Client().Do(mustRequest(t, "GET", r.url, nil))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the connections beyond the idle limit to close", func() bool { return backend.closed.Load() == burst-maxIdle })
	start := time.Now()
	waitFor(t, "the idle connections to time out", func() bool { return backend.closed.Load() == burst })
	if waited := time.Since(start); waited > idle+2*time.Second {
		t.Errorf("idle connections closed after %v, want about %v", waited, idle)
	}
}

// A response the client abandons mid-body closes its upstream connection,
// which still holds the rest: the next request takes a new one.
func TestH1ClientClosesConnectionOfAbandonedBody(t *testing.T) {
	backend := newScriptedBackend(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/endless" {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\npartial")
				io.Copy(io.Discard, br) // until the proxy closes
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	c, br := dialRaw(t, r.addr, safety)
	io.WriteString(c, "GET /endless HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v, %v", resp, err)
	}
	c.Close()
	waitFor(t, "the upstream connection to close", func() bool { return backend.closed.Load() == 1 })
	if _, body := get(t, h1Client(), mustRequest(t, "GET", r.url+"/next", nil)); body != "ok" {
		t.Fatalf("next request: %q", body)
	}
	if n := backend.accepted.Load(); n != 2 {
		t.Errorf("%d upstream connections, want 2", n)
	}
}

// An HTTPS peer that chooses http/1.1 by ALPN is served by the HTTP/1.1
// client, one kept-alive connection for both requests; one that chooses
// h2 is served in HTTP/2 on the very connection whose handshake told.
func TestH1ClientHTTPSPeersByALPN(t *testing.T) {
	cert, pool := newCert(t, "backend.test")
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http/1.1", true: "h2"}[h2], func(t *testing.T) {
			protos := make(chan int, 2)
			backend := newCountingTLSBackend(t, cert, h2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				protos <- r.ProtoMajor
			}))
			peer := proxy.Peer{Address: backend.Listener.Addr().String(), Scheme: proxy.SchemeHTTPS, SNI: "backend.test", RootCAs: pool}
			r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
			client := h1Client()
			want := map[bool]int{false: 1, true: 2}[h2]
			for i := range 2 {
				if resp, _ := get(t, client, mustRequest(t, "GET", r.url, nil)); resp.StatusCode != 200 {
					t.Fatalf("request %d: status %d", i+1, resp.StatusCode)
				}
				if got := <-protos; got != want {
					t.Errorf("request %d reached the peer in HTTP/%d, want HTTP/%d", i+1, got, want)
				}
			}
			if n := backend.accepted.Load(); n != 1 {
				t.Errorf("%d TLS connections, want 1", n)
			}
		})
	}
}

// A peer that does not complete the connection within the connect timeout,
// TCP (a listener whose queue is full) or TLS (a handshake nobody answers),
// is a connect failure: 502, and FailToConnect is asked about it.
func TestH1ClientConnectTimeout(t *testing.T) {
	for _, scheme := range []proxy.Scheme{proxy.SchemeHTTP1, proxy.SchemeHTTPS} {
		t.Run(strconv.Itoa(int(scheme)), func(t *testing.T) {
			var addr string
			if scheme == proxy.SchemeHTTPS {
				addr = silentListener(t)
			} else {
				addr = nettest.BlackholeAddr(t)
			}
			const limit = 200 * time.Millisecond
			peer := proxy.Peer{Address: addr, Scheme: scheme, ConnectTimeout: limit}
			r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
			start := time.Now()
			resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
			if took := time.Since(start); resp.StatusCode != http.StatusBadGateway || took > limit+2*time.Second {
				t.Errorf("status %d after %v, want 502 after about %v", resp.StatusCode, took, limit)
			}
			// FailToConnect ran before the 502 was written.
			if calls, _ := r.phases.snapshot(); !strings.Contains(strings.Join(calls, ","), "FailToConnect") {
				t.Errorf("calls %v, want FailToConnect", calls)
			}
		})
	}
}

// silentListener accepts connections and never says a word.
func silentListener(t *testing.T) string {
	t.Helper()
	return newScriptedBackend(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br)
	}).peer.Address
}

// Pooled HTTP/1.1 connections cost no goroutine: the requesting goroutine
// does the reading and writing (http.Transport kept two per connection,
// a read loop and a write loop).
func TestH1ClientPooledConnectionsHaveNoGoroutines(t *testing.T) {
	const conns = 20
	var arrived sync.WaitGroup
	arrived.Add(conns)
	backend := newScriptedBackend(t, func(n int64, c net.Conn, br *bufio.Reader) {
		first := true
		answerEach(func(int64, *http.Request, []byte) (string, bool) {
			if first { // answer once every connection is in use
				first = false
				arrived.Done()
				arrived.Wait()
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false
		})(n, c, br)
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{MaxIdleConnsPerPeer: conns}, nil)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, br := dialRaw(t, r.addr, safety)
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
			if resp, err := http.ReadResponse(br, nil); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	// What is left: the backend's goroutine per connection, and the
	// clients' connections on the proxy's side on their way out.
	limit := before + conns + conns/4
	waitFor(t, "the goroutines of the finished exchanges to end", func() bool { return runtime.NumGoroutine() <= limit })
	if n := backend.accepted.Load(); n != conns || backend.closed.Load() != 0 {
		t.Fatalf("%d upstream connections, %d closed; want %d pooled", n, backend.closed.Load(), conns)
	}
}
