package proxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// stallingHandler never answers until the test ends or the request is
// given up on, and reports the protocol it was reached with.
func stallingHandler(t *testing.T, protos chan<- string) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

// The response timeout is enforced by the pooled transports, so every
// upstream protocol needs its own proof.
func TestResponseTimeoutIs504OnEveryUpstreamProtocol(t *testing.T) {
	cert, pool := newCert(t, "backend.test")
	cases := map[string]struct {
		scheme proxy.Scheme
		start  func(*httptest.Server)
		proto  string
	}{
		"h2c": {proxy.SchemeH2C, func(ts *httptest.Server) {
			ts.Config.Protocols = new(http.Protocols)
			ts.Config.Protocols.SetUnencryptedHTTP2(true)
			ts.Start()
		}, "HTTP/2.0"},
		"https h2": {proxy.SchemeHTTPS, func(ts *httptest.Server) {
			ts.EnableHTTP2 = true
			ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			ts.StartTLS()
		}, "HTTP/2.0"},
		"https h1": {proxy.SchemeHTTPS, func(ts *httptest.Server) {
			ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			ts.StartTLS()
		}, "HTTP/1.1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			protos := make(chan string, 1)
			backend := httptest.NewUnstartedServer(stallingHandler(t, protos))
			c.start(backend)
			t.Cleanup(backend.Close)
			peer := proxy.Peer{Address: backend.Listener.Addr().String(), Scheme: c.scheme,
				SNI: "backend.test", RootCAs: pool, ResponseTimeout: 100 * time.Millisecond}
			r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
			resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("status %d, want 504", resp.StatusCode)
			}
			if got := <-protos; got != c.proto {
				t.Errorf("upstream reached over %s, want %s", got, c.proto)
			}
			_, logs := r.settle(t)
			if len(logs) != 1 || logs[0].status != 504 || statusError(logs[0].err) != 504 {
				t.Errorf("logs = %+v", logs)
			}
		})
	}
}

// The response timeout starts once the request is written: a client that
// uploads slowly is not an upstream that answers slowly.
func TestSlowUploadIsNotAResponseTimeout(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	}))
	peer := peerOf(t, backend.Server, proxy.SchemeHTTP1)
	peer.ResponseTimeout = 50 * time.Millisecond
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)

	body, upload := io.Pipe()
	go func() {
		upload.Write([]byte("first half, "))
		time.Sleep(4 * peer.ResponseTimeout) // the upload outlasts the response timeout
		upload.Write([]byte("second half"))
		upload.Close()
	}()
	resp, got := get(t, h1Client(), mustRequest(t, "POST", r.url, body))
	if resp.StatusCode != 200 || got != "23 <nil>" {
		t.Fatalf("got %d %q, want the whole upload answered", resp.StatusCode, got)
	}
}

// stall is the timeout the slow-peer tests configure; giveUp is how long a
// raw client waits before calling the proxy stuck.
const (
	stall  = 200 * time.Millisecond
	giveUp = 3 * time.Second
)

// bodyReader is a backend that reads the whole request body and reports
// how much it got and how the body ended, before answering.
func bodyReader(t *testing.T) (*countingBackend, <-chan uploadSeen) {
	seen := make(chan uploadSeen, 1)
	b := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		seen <- uploadSeen{n, err}
		io.WriteString(w, "read it all")
	}))
	return b, seen
}

type uploadSeen struct {
	n   int64
	err error
}

// A client that stops sending its body mid-way gets 408 once the client
// body timeout passes (nginx's client_body_timeout), and the backend sees
// its request cut rather than waiting with it.
func TestStalledUploadIs408AndCutUpstream(t *testing.T) {
	backend, seen := bodyReader(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{ClientBodyTimeout: stall}, nil)
	c, rd := dialRaw(t, r.addr, giveUp)
	start := time.Now()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nfirst part")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled upload: %v %v, want 408", resp, err)
	}
	if took := time.Since(start); took < stall {
		t.Errorf("408 after %v, before the %v timeout", took, stall)
	}
	if got := within(t, "the backend to see the request end", safety, seen); got.err == nil || got.n != 10 {
		t.Errorf("backend read %d bytes, %v; want the 10 sent, then the request cut", got.n, got.err)
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || logs[0].status != 408 || !errors.Is(logs[0].err, context.Canceled) {
		t.Errorf("logs = %+v, want one 408 blamed on the client", logs)
	}
}

func TestStalledUploadOverH2CIs408(t *testing.T) {
	backend, seen := bodyReader(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{ClientBodyTimeout: stall}, nil)
	body, upload := io.Pipe()
	defer upload.Close()
	go upload.Write([]byte("first part")) // and nothing more
	req := mustRequest(t, "POST", r.url, body)
	client := h2cClient()
	client.Timeout = giveUp
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled h2c upload: %v %v, want 408", resp, err)
	}
	resp.Body.Close()
	if got := within(t, "the backend to see the request end", safety, seen); got.err == nil {
		t.Errorf("backend read %d bytes and a complete body", got.n)
	}
}

// The client body timeout is between two reads, not for the whole body:
// a slow but steady upload is served, and the connection stays usable.
func TestSteadyUploadOutlastsClientBodyTimeout(t *testing.T) {
	backend, seen := bodyReader(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{ClientBodyTimeout: 3 * stall / 2}, nil)
	c, rd := dialRaw(t, r.addr, safety)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
	for range 5 { // 5 × stall/2: longer than the timeout in all
		time.Sleep(stall / 2)
		io.WriteString(c, "x")
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("steady upload: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	if got := <-seen; got.n != 5 || got.err != nil {
		t.Errorf("backend read %d bytes, %v", got.n, got.err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request on the connection: %v %v", resp, err)
	}
}

// A Content-Length above the limit is refused before any upstream is
// contacted (nginx's client_max_body_size); the limit itself is allowed.
func TestDeclaredBodyOverLimitIs413(t *testing.T) {
	backend, _ := bodyReader(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{MaxRequestBodyBytes: 1000}, nil)
	c, rd := dialRaw(t, r.addr, giveUp)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("Content-Length over the limit: %v %v, want 413", resp, err)
	}
	if n := backend.accepted.Load(); n != 0 {
		t.Errorf("the backend was contacted %d times for a refused body", n)
	}
	resp, body := get(t, h1Client(), mustRequest(t, "POST", r.url, strings.NewReader(strings.Repeat("a", 1000))))
	if resp.StatusCode != 200 || body != "read it all" {
		t.Errorf("body at the limit: %d %q", resp.StatusCode, body)
	}
}

// A chunked body that grows beyond the limit is cut there: the backend
// never gets a byte beyond it, and the client gets 413.
func TestStreamedBodyOverLimitIsCut(t *testing.T) {
	backend, seen := bodyReader(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{MaxRequestBodyBytes: 1000}, nil)
	c, rd := dialRaw(t, r.addr, giveUp)
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 600, strings.Repeat("a", 600))
	go io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk+chunk+chunk+"0\r\n\r\n")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the limit: %v %v, want 413", resp, err)
	}
	if got := within(t, "the backend to see the body end", safety, seen); got.err == nil || got.n > 1000 {
		t.Errorf("backend read %d bytes, %v; want at most 1000, then the request cut", got.n, got.err)
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || logs[0].status != 413 || !errors.Is(logs[0].err, context.Canceled) {
		t.Errorf("logs = %+v, want the 413 blamed on the client", logs)
	}
}

// An upstream that sends its headers and then stalls its body for longer
// than the read timeout (nginx's proxy_read_timeout) has its connection
// closed, not pooled, and the client's response is cut: its headers are
// already out, so an incomplete body is all that can say so.
func TestStalledUpstreamBodyIsCut(t *testing.T) {
	cases := map[string]struct {
		peer time.Duration
		opts proxy.Options
	}{
		"peer":    {stall, proxy.Options{ReadTimeout: time.Hour}},
		"default": {0, proxy.Options{ReadTimeout: stall}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			closed := make(chan struct{}, 1)
			addr := rawBackend(t, func(c net.Conn, req *http.Request) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
				io.Copy(io.Discard, c) // until the proxy hangs up
				closed <- struct{}{}
			})
			peer := proxy.Peer{Address: addr, Scheme: proxy.SchemeHTTP1, ReadTimeout: c.peer}
			r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, c.opts, nil)
			conn, rd := dialRaw(t, r.addr, giveUp)
			start := time.Now()
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(rd, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("response: %v %v", resp, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("body %q, %v: want it cut by the proxy", body, err)
			}
			if took := time.Since(start); took < stall {
				t.Errorf("cut after %v, before the %v timeout", took, stall)
			}
			within(t, "the upstream connection to be closed", safety, closed)
			_, logs := r.settle(t)
			if len(logs) != 1 || statusError(logs[0].err) != http.StatusGatewayTimeout {
				t.Errorf("logs = %+v, want the stalled upstream reported", logs)
			}
		})
	}
}

// endlessResponse is a rig with a short send timeout in front of a backend
// that streams 64 MiB, more than any socket buffers hold, and reports how
// much it could send.
func endlessResponse(t *testing.T) (*rig, *countingBackend, <-chan int64) {
	upstreamDone := make(chan int64, 1)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		var sent int64
		for sent < 64<<20 { // far more than socket buffers hold
			n, err := w.Write(buf)
			sent += int64(n)
			if err != nil || http.NewResponseController(w).Flush() != nil {
				break
			}
		}
		upstreamDone <- sent
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{SendTimeout: stall}, nil)
	return r, backend, upstreamDone
}

// A client that stops reading a large streaming response has its
// connection closed after the send timeout (nginx's send_timeout), and the
// upstream connection feeding it is closed too, instead of both waiting
// for as long as the client likes.
func TestClientThatStopsReadingIsCut(t *testing.T) {
	r, backend, upstreamDone := endlessResponse(t)
	conn, _ := dialRaw(t, r.addr, giveUp)
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	start := time.Now()
	io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	// The client reads nothing at all.
	if sent := within(t, "the upstream to be cut off", giveUp, upstreamDone); sent >= 64<<20 {
		t.Fatalf("the upstream sent all %d bytes to a client that reads nothing", sent)
	}
	if took := time.Since(start); took < stall {
		t.Errorf("cut after %v, before the %v timeout", took, stall)
	}
	waitFor(t, "the upstream connection to be closed", func() bool { return backend.closed.Load() == 1 })
	// settle fails if the client's connection is still being served. (The
	// client cannot tell: the kernel still holds what was sent to it.)
	_, logs := r.settle(t)
	if len(logs) != 1 || !errors.Is(logs[0].err, context.Canceled) {
		t.Errorf("logs = %+v, want one request ended by the client", logs)
	}
}

// A tunnel (WebSocket) through which nothing goes either way for the
// tunnel idle timeout is closed on both sides; one that carries bytes
// stays up however long it lasts. A peer's read timeout, when set,
// applies to its tunnels instead.
func TestIdleTunnelIsClosed(t *testing.T) {
	cases := map[string]struct {
		peer time.Duration
		opts proxy.Options
	}{
		"tunnel idle timeout": {0, proxy.Options{TunnelIdleTimeout: 2 * stall, ReadTimeout: time.Hour}},
		"peer read timeout":   {2 * stall, proxy.Options{TunnelIdleTimeout: time.Hour}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ended := make(chan error, 1)
			backend := newCountingBackend(t, websocket.Handler(func(ws *websocket.Conn) {
				_, err := io.Copy(ws, ws)
				ended <- err
			}))
			peer := peerOf(t, backend.Server, proxy.SchemeHTTP1)
			peer.ReadTimeout = c.peer
			r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, c.opts, nil)
			ws, err := websocket.Dial("ws://"+r.addr+"/", "", "http://"+r.addr+"/")
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.SetDeadline(time.Now().Add(giveUp))
			start := time.Now()
			for range 6 { // 6 × stall/2 = 1.5 × the idle timeout, never idle
				time.Sleep(stall / 2)
				var got string
				if err := websocket.Message.Send(ws, "ping"); err != nil {
					t.Fatalf("busy tunnel after %v: %v", time.Since(start), err)
				}
				if err := websocket.Message.Receive(ws, &got); err != nil || got != "ping" {
					t.Fatalf("busy tunnel after %v: %q, %v", time.Since(start), got, err)
				}
			}
			var got string
			if err := websocket.Message.Receive(ws, &got); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("idle tunnel: receive = %q, %v; want it closed by the proxy", got, err)
			}
			within(t, "the backend side of the tunnel to end", safety, ended)
			_, logs := r.settle(t)
			if len(logs) != 1 || logs[0].status != http.StatusSwitchingProtocols || logs[0].err == nil {
				t.Errorf("logs = %+v, want one 101 ended by the idle timeout", logs)
			}
		})
	}
}

// Over HTTP/2 a client that stops reading blocks its stream (flow
// control), not its connection: the stream is reset after the send
// timeout, and the upstream connection is closed all the same.
func TestH2ClientThatStopsReadingIsCut(t *testing.T) {
	r, backend, upstreamDone := endlessResponse(t)
	client := h2cClient() // its timeout is longer than giveUp: it must not be what cuts the stream
	resp, err := client.Get(r.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // the client reads nothing
	if sent := within(t, "the upstream to be cut off", giveUp, upstreamDone); sent >= 64<<20 {
		t.Fatalf("the upstream sent all %d bytes to a client that reads nothing", sent)
	}
	waitFor(t, "the upstream connection to be closed", func() bool { return backend.closed.Load() == 1 })
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Error("the client read a complete response")
	}
	logs := loggedOnce(t, r)
	if len(logs) != 1 || !errors.Is(logs[0].err, context.Canceled) {
		t.Errorf("logs = %+v, want one request ended by the client", logs)
	}
}

// Once the response has started (HTTP/2 streams both ways at once), a
// body that grows beyond the limit can no longer get its 413: the
// response is cut instead, and the backend still gets nothing beyond it.
func TestStreamedBodyOverLimitCutsStartedResponse(t *testing.T) {
	seen := make(chan uploadSeen, 1)
	backend := newH2CBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		n, err := io.Copy(io.Discard, r.Body)
		seen <- uploadSeen{n, err}
		io.WriteString(w, "read it all")
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend, proxy.SchemeH2C)}}, proxy.Options{MaxRequestBodyBytes: 1000}, nil)
	body, upload := io.Pipe()
	defer upload.Close()
	go upload.Write(make([]byte, 600))
	resp, err := h2cClient().Do(mustRequest(t, "POST", r.url, body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response: %v %v", resp, err)
	}
	go upload.Write(make([]byte, 600)) // beyond the limit
	readErr := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		readErr <- err
	}()
	if err := within(t, "the response to end", giveUp, readErr); err == nil {
		t.Error("client got a complete response")
	}
	if got := within(t, "the backend to see the body end", safety, seen); got.err == nil || got.n > 1000 {
		t.Errorf("backend read %d bytes, %v; want at most 1000, then the request cut", got.n, got.err)
	}
	logs := loggedOnce(t, r)
	if len(logs) != 1 || logs[0].status != 200 || statusError(logs[0].err) != 413 {
		t.Errorf("logs = %+v, want the 200 cut for a body over the limit", logs)
	}
}

// loggedOnce waits until the proxy has logged one request, for tests that
// leave an HTTP/2 connection open: settle would linger for it.
func loggedOnce(t *testing.T, r *rig) []logEntry {
	t.Helper()
	var logs []logEntry
	waitFor(t, "the request to be logged", func() bool {
		_, logs = r.phases.snapshot()
		return len(logs) > 0
	})
	return logs
}

// The client body timeout watches every request of a kept-alive
// connection, which reuses one watchdog: a body that stalls after a
// streamed body on the same connection still gets its 408.
func TestStalledUploadAfterAnotherOnTheConnectionIs408(t *testing.T) {
	backend, seen := bodyReader(t)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{ClientBodyTimeout: stall}, nil)
	c, rd := dialRaw(t, r.addr, giveUp)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst")
	time.Sleep(stall / 4) // the rest comes later: the body streams, watched
	io.WriteString(c, " part")
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first upload: %v %v, want 200", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	<-seen
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nfirst part")
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("second upload, stalled: %v %v, want 408", resp, err)
	}
}

// The watchdog a connection's exchange keeps from one response to the
// next (see responseDog) still cuts a later response's stalled body.
func TestStalledUpstreamBodyAfterAnotherOnTheConnectionIsCut(t *testing.T) {
	addr := rawBackend(t, func(c net.Conn, req *http.Request) {
		if req.URL.Path == "/whole" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
		io.Copy(io.Discard, c) // until the proxy hangs up
	})
	peer := proxy.Peer{Address: addr, Scheme: proxy.SchemeHTTP1}
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{ReadTimeout: stall}, nil)
	conn, rd := dialRaw(t, r.addr, giveUp)
	io.WriteString(conn, "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first response: %v %v", resp, err)
	} else if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
		t.Fatalf("first body %q", body)
	}
	start := time.Now()
	io.WriteString(conn, "GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("second response: %v %v", resp, err)
	}
	if body, err := io.ReadAll(resp.Body); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second body %q, %v: want it cut by the proxy", body, err)
	}
	if took := time.Since(start); took < stall {
		t.Errorf("cut after %v, before the %v timeout", took, stall)
	}
}
