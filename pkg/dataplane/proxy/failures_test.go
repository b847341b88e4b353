package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/internal/nettest"
)

func TestResponseTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	peer := peerOf(t, backend.Server, proxy.SchemeHTTP1)
	peer.ResponseTimeout = 100 * time.Millisecond
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
	resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || logs[0].status != 504 || statusError(logs[0].err) != 504 {
		t.Errorf("logs = %+v", logs)
	}
}

func TestConnectRefusedIs502(t *testing.T) {
	phases := &testPhases{peers: []proxy.Peer{{Address: refusedAddr(t), Scheme: proxy.SchemeHTTP1}}}
	r := newRig(t, phases, proxy.Options{}, nil)
	resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	calls, logs := r.settle(t)
	want := []string{"RequestFilter", "UpstreamPeer", "UpstreamRequestFilter", "FailToConnect", "Logging"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	var opErr *net.OpError
	if len(logs) != 1 || !errors.As(logs[0].err, &opErr) || opErr.Op != "dial" {
		t.Errorf("logs = %+v, want the dial error", logs)
	}
}

func TestRetryOnConnectFailureUsesNextPeer(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "second peer got %q", body)
	}))
	phases := &testPhases{retry: true, peers: []proxy.Peer{
		{Address: refusedAddr(t), Scheme: proxy.SchemeHTTP1},
		peerOf(t, backend.Server, proxy.SchemeHTTP1),
	}}
	r := newRig(t, phases, proxy.Options{}, nil)
	resp, body := get(t, h1Client(), mustRequest(t, "POST", r.url, strings.NewReader("the body survives")))
	if resp.StatusCode != 200 || body != `second peer got "the body survives"` {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	calls, logs := r.settle(t)
	want := []string{"RequestFilter", "UpstreamPeer", "UpstreamRequestFilter", "FailToConnect",
		"UpstreamPeer", "UpstreamRequestFilter", "ResponseFilter", "Logging"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %v\nwant    %v", calls, want)
	}
	if len(logs) != 1 || logs[0].attempt != 2 || logs[0].status != 200 || logs[0].err != nil {
		t.Errorf("logs = %+v", logs)
	}
}

// A peer whose SYNs are dropped (its node gone, its EndpointSlice not yet
// updated) costs a request its connect timeout, not the kernel's SYN
// retransmits (1 s, 3 s, ... up to minutes), and the request is then
// served by the next peer: nothing was sent, so any method may go again.
// nginx (proxy_next_upstream error timeout) and Envoy (retry_on
// connect-failure) do the same.
func TestConnectTimeoutUsesNextPeer(t *testing.T) {
	var served atomic.Int64
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "second peer got %q", body)
	}))
	const connectTimeout = 300 * time.Millisecond
	silent := proxy.Peer{Address: nettest.BlackholeAddr(t), Scheme: proxy.SchemeHTTP1, ConnectTimeout: connectTimeout}
	phases := &testPhases{retry: true, peers: []proxy.Peer{silent, peerOf(t, backend.Server, proxy.SchemeHTTP1)}}
	r := newRig(t, phases, proxy.Options{}, nil)
	start := time.Now()
	resp, body := get(t, h1Client(), mustRequest(t, "POST", r.url, strings.NewReader("the body")))
	took := time.Since(start)
	if resp.StatusCode != 200 || body != `second peer got "the body"` {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	// Well under the first SYN retransmit (1 s), which a dial without a
	// timeout of its own would wait for.
	if took < connectTimeout || took > connectTimeout+500*time.Millisecond {
		t.Errorf("served after %v, want the connect timeout (%v) and a little", took, connectTimeout)
	}
	if _, logs := r.settle(t); len(logs) != 1 || logs[0].attempt != 2 || logs[0].err != nil {
		t.Errorf("logs = %+v", logs)
	}
	if n := served.Load(); n != 1 {
		t.Errorf("the second peer got %d requests, want 1", n)
	}
}

func TestMaxAttemptsCapsRetries(t *testing.T) {
	phases := &testPhases{retry: true, peers: []proxy.Peer{{Address: refusedAddr(t), Scheme: proxy.SchemeHTTP1}}}
	r := newRig(t, phases, proxy.Options{MaxAttempts: 2}, nil)
	resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	calls, logs := r.settle(t)
	if n := strings.Count(strings.Join(calls, ","), "FailToConnect"); n != 2 || logs[0].attempt != 2 {
		t.Errorf("calls = %v, want two attempts", calls)
	}
}

// rawBackend answers every connection with fn, for upstreams that misbehave.
func rawBackend(t *testing.T, fn func(c net.Conn, req *http.Request)) string {
	t.Helper()
	return upgradeBackend(t, func(c net.Conn, _ *bufio.Reader, req *http.Request) { fn(c, req) }).Address
}

// A peer that takes a request and hangs up without a response: a request
// safe to repeat goes to the next peer, anything else gets a 502 and is
// never sent twice.
func TestUpstreamHangUpBeforeHeaders(t *testing.T) {
	var hangUps atomic.Int64
	hangUp := rawBackend(t, func(net.Conn, *http.Request) { hangUps.Add(1) }) // reads the request, hangs up
	tests := []struct {
		method, body string
		want         int
		retried      bool
	}{
		{"GET", "", http.StatusOK, true},
		{"HEAD", "", http.StatusOK, true},
		{"POST", "not twice", http.StatusBadGateway, false},
		{"DELETE", "", http.StatusBadGateway, false}, // idempotent, but repeating it is the client's call
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			var served atomic.Int64
			healthy := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
			phases := &testPhases{retry: true, peers: []proxy.Peer{
				{Address: hangUp, Scheme: proxy.SchemeHTTP1}, peerOf(t, healthy.Server, proxy.SchemeHTTP1)}}
			r := newRig(t, phases, proxy.Options{}, nil)
			before := hangUps.Load()
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, _ := get(t, h1Client(), mustRequest(t, tt.method, r.url, body))
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			calls, _ := r.settle(t)
			if slices.Contains(calls, "FailToConnect") != tt.retried || hangUps.Load()-before != 1 {
				t.Errorf("retried=%v (calls %v), hang-ups %d; want retried=%v after exactly one hang-up",
					slices.Contains(calls, "FailToConnect"), calls, hangUps.Load()-before, tt.retried)
			}
			if got := served.Load(); (got == 1) != tt.retried {
				t.Errorf("the healthy peer got %d requests", got)
			}
		})
	}
}

func TestUpstreamBodyFailureAbortsDownstream(t *testing.T) {
	truncated := map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
	}
	for name, answer := range truncated {
		t.Run(name, func(t *testing.T) {
			addr := rawBackend(t, func(c net.Conn, _ *http.Request) { io.WriteString(c, answer) })
			r := newRig(t, &testPhases{peers: []proxy.Peer{{Address: addr, Scheme: proxy.SchemeHTTP1}}}, proxy.Options{}, nil)
			resp, err := h1Client().Get(r.url)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("client read %q and a clean end; a truncated upstream body must not look complete", body)
			}
			_, logs := r.settle(t)
			if len(logs) != 1 || statusError(logs[0].err) != http.StatusBadGateway || logs[0].status != 200 {
				t.Errorf("logs = %+v, want status 200 sent and the upstream failure reported", logs)
			}
		})
	}
}

func TestPanickingPhaseIs500AndServingGoesOn(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") }))
	phases := &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}
	phases.upstreamRequest = func(s *proxy.Session, _ *proxy.Request) error {
		if s.RequestHeader().Get("X-Panic") != "" {
			panic("phase bug")
		}
		return nil
	}
	var panics atomic.Int64
	rec := logtest.NewRecorder()
	r := newRig(t, phases, proxy.Options{OnPanic: func() { panics.Add(1) }, Logger: rec.Logger()}, nil)
	client := h1Client()
	req := mustRequest(t, "GET", r.url+"/bug", nil)
	req.Header.Set("X-Panic", "1")
	req.Header.Set("X-Request-Id", "req-42")
	if resp, _ := get(t, client, req); resp.StatusCode != 500 {
		t.Fatalf("panicking phase: status %d, want 500", resp.StatusCode)
	}
	if resp, body := get(t, client, mustRequest(t, "GET", r.url, nil)); resp.StatusCode != 200 || body != "fine" {
		t.Fatalf("after the panic: %d %q", resp.StatusCode, body)
	}
	_, logs := r.settle(t)
	if len(logs) != 2 || logs[0].status != 500 || logs[0].err == nil || !strings.Contains(logs[0].err.Error(), "phase bug") {
		t.Errorf("logs = %+v", logs)
	}
	if n := panics.Load(); n != 1 {
		t.Errorf("OnPanic called %d times, want 1", n)
	}
	p, ok := rec.Find("proxy: recovered panic")
	if !ok || p.Level != slog.LevelError || p.Attrs["panic"].String() != "phase bug" || p.Attrs["path"].String() != "/bug" ||
		p.Attrs["request_id"].String() != "req-42" || !strings.Contains(p.Attrs["stack"].String(), "runtime/debug.Stack") {
		t.Errorf("the panic was logged as %+v (found %v), want an error with panic, path, request_id and stack", p, ok)
	}
}

// TestLoggingOncePerRequest drives one request through each way a request
// can end and checks Logging saw each exactly once, with its status.
func TestLoggingOncePerRequest(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(safety):
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	good := peerOf(t, backend.Server, proxy.SchemeHTTP1)
	slow := good
	slow.ResponseTimeout = 50 * time.Millisecond
	refused := proxy.Peer{Address: refusedAddr(t), Scheme: proxy.SchemeHTTP1}
	phases := &testPhases{}
	phases.requestFilter = func(s *proxy.Session) (bool, error) {
		switch s.Request.URL.Path {
		case "/handled":
			s.Writer.WriteHeader(http.StatusTeapot)
			return true, nil
		case "/filter-error":
			return false, errors.New("filter failed")
		}
		return false, nil
	}
	phases.pick = func(s *proxy.Session) (*proxy.Peer, error) {
		switch s.Request.URL.Path {
		case "/no-peer":
			return nil, &proxy.Error{Status: http.StatusServiceUnavailable, Reason: "no endpoints"}
		case "/refused":
			return &refused, nil
		case "/slow":
			return &slow, nil
		case "/panic":
			panic("boom")
		}
		return &good, nil
	}
	phases.responseFilter = func(s *proxy.Session, _ *proxy.Response) error {
		if s.Request.URL.Path == "/response-error" {
			return &proxy.Error{Status: http.StatusForbidden, Reason: "not for you"}
		}
		return nil
	}
	r := newRig(t, phases, proxy.Options{}, nil)

	cases := []struct {
		path   string
		status int
		err    bool
	}{
		{"/ok", 200, false},
		{"/handled", 418, false},
		{"/filter-error", 500, true},
		{"/no-peer", 503, true},
		{"/refused", 502, true},
		{"/slow", 504, true},
		{"/panic", 500, true},
		{"/response-error", 403, true},
		{"/ok", 200, false},
	}
	client := h1Client()
	for _, c := range cases {
		resp, _ := get(t, client, mustRequest(t, "GET", r.url+c.path, nil))
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.path, resp.StatusCode, c.status)
		}
	}
	calls, logs := r.settle(t)
	if n := strings.Count(strings.Join(calls, ","), "Logging"); n != len(cases) {
		t.Fatalf("Logging called %d times for %d requests: %v", n, len(cases), calls)
	}
	for i, c := range cases {
		if logs[i].status != c.status || (logs[i].err != nil) != c.err {
			t.Errorf("%s: logged status %d err %v, want %d (error: %v)", c.path, logs[i].status, logs[i].err, c.status, c.err)
		}
	}
}

func TestClientGoneIsLoggedAsCanceled(t *testing.T) {
	entered := make(chan struct{})
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := mustRequest(t, "GET", r.url, nil).WithContext(ctx)
	go func() {
		<-entered
		cancel()
	}()
	if _, err := h1Client().Do(req); err == nil {
		t.Fatal("request succeeded after the client cancelled it")
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || !errors.Is(logs[0].err, context.Canceled) || logs[0].status != proxy.StatusClientClosedRequest {
		t.Errorf("logs = %+v, want a 499 matching context.Canceled", logs)
	}
}

func TestGarbageRequestsGet4xx(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") }))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	garbage := map[string]string{
		"connect":          "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		"relative target":  "GET relative/path HTTP/1.1\r\nHost: x\r\n\r\n",
		"bad host":         "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"no host":          "GET / HTTP/1.1\r\n\r\n",
		"binary":           "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
		"bad header":       "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
		"double length":    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"huge header":      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
		"asterisk for get": "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for name, raw := range garbage {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(safety))
			go io.WriteString(c, raw) // a huge header may be refused before it is all written
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no HTTP answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Errorf("status %d, want 4xx", resp.StatusCode)
			}
		})
	}
	if resp, body := get(t, h1Client(), mustRequest(t, "GET", r.url, nil)); resp.StatusCode != 200 || body != "fine" {
		t.Fatalf("after garbage: %d %q", resp.StatusCode, body)
	}
}

func TestOptionsAsteriskIsForwardedAsIs(t *testing.T) {
	targets := make(chan string, 1)
	addr := rawBackend(t, func(c net.Conn, req *http.Request) {
		targets <- req.Method + " " + req.RequestURI
		io.WriteString(c, "HTTP/1.1 204 No Content\r\nAllow: GET\r\n\r\n")
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{{Address: addr, Scheme: proxy.SchemeHTTP1}}}, proxy.Options{}, nil)
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(safety))
	io.WriteString(c, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 204 || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("OPTIONS *: %v %v", resp, err)
	}
	if got := <-targets; got != "OPTIONS *" {
		t.Errorf("upstream got %q", got)
	}
}

// A client that half-closes (shuts down its sending side) while its request
// is in flight looks gone to net/http. The proxy gives up the request, and
// what the client still reads must not be an empty 200 that the proxy never
// got from anywhere.
func TestHalfClosedClientGetsNoFakeResponse(t *testing.T) {
	entered := make(chan struct{})
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(safety))
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	c.(*net.TCPConn).CloseWrite()
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Fatalf("half-closed client got a response the upstream never sent: %d", resp.StatusCode)
	}
	_, logs := r.settle(t)
	if len(logs) != 1 || logs[0].status != proxy.StatusClientClosedRequest {
		t.Errorf("logs = %+v, want one 499", logs)
	}
}
