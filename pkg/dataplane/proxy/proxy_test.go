package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

func TestKeepAliveReusedOnBothSides(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	client := h1Client()

	const n = 5
	reused := 0
	for i := range n {
		req := mustRequest(t, "GET", fmt.Sprintf("%s/r%d", r.url, i), nil)
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused {
				reused++
			}
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, body := get(t, client, req)
		if resp.StatusCode != 200 || body != fmt.Sprintf("hello /r%d", i) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if reused != n-1 {
		t.Errorf("downstream: %d of %d requests reused the client connection, want %d", reused, n, n-1)
	}
	if got := backend.accepted.Load(); got != 1 {
		t.Errorf("upstream accepted %d connections for %d sequential requests, want 1", got, n)
	}
}

func TestForwardedHeadersAndHost(t *testing.T) {
	seen := make(chan http.Header, 2)
	hosts := make(chan string, 2)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		hosts <- r.Host
	}))
	phases := &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}
	r := newRig(t, phases, proxy.Options{}, nil)

	req := mustRequest(t, "GET", r.url+"/x", nil)
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Forwarded-Proto", "https") // a client's claim; the proxy knows better
	get(t, h1Client(), req)
	h := <-seen
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the untrusted client's claim replaced by its address", got)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q, want http", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "shop.example" {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if got := <-hosts; got != "shop.example" {
		t.Errorf("upstream Host = %q, want the downstream Host kept", got)
	}

	// A phase rewriting Host wins; X-Forwarded-Host still names the original.
	phases.upstreamRequest = func(_ *proxy.Session, out *proxy.Request) error {
		out.Host = "internal.svc"
		return nil
	}
	req = mustRequest(t, "GET", r.url+"/y", nil)
	req.Host = "shop.example"
	get(t, h1Client(), req)
	if got := (<-seen).Get("X-Forwarded-Host"); got != "shop.example" {
		t.Errorf("X-Forwarded-Host after rewrite = %q", got)
	}
	if got := <-hosts; got != "internal.svc" {
		t.Errorf("upstream Host = %q, want the phase's rewrite", got)
	}
}

// TestUntrustedClientCannotSpoofForwarding: with no trusted proxies, every
// forwarding field a client sends is replaced by what the proxy saw, as
// ingress-nginx does with use-forwarded-headers off; the original code
// appended to X-Forwarded-For and passed the others through.
func TestUntrustedClientCannotSpoofForwarding(t *testing.T) {
	seen := make(chan http.Header, 1)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	_, port, _ := strings.Cut(r.addr, ":")

	req := mustRequest(t, "GET", r.url+"/x", nil)
	req.Host = "shop.example"
	for k, v := range map[string]string{
		"X-Forwarded-For":   "203.0.113.7",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "admin.internal",
		"X-Forwarded-Port":  "443",
		"X-Real-IP":         "203.0.113.7",
		"Forwarded":         "for=203.0.113.7;proto=https",
		"X_Forwarded_For":   "203.0.113.8", // HTTP_X_FORWARDED_FOR to a CGI backend
	} {
		req.Header[k] = []string{v}
	}
	get(t, h1Client(), req)
	h := <-seen
	want := map[string][]string{
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Forwarded-Proto": {"http"},
		"X-Forwarded-Host":  {"shop.example"},
		"X-Forwarded-Port":  {port},
		"X-Real-Ip":         {"127.0.0.1"},
		"Forwarded":         nil,
	}
	for k, v := range want {
		if got := h[k]; !slices.Equal(got, v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for k, v := range h { // net/http canonicalises it as X_forwarded_for
		if strings.EqualFold(k, "X_Forwarded_For") {
			t.Errorf("%s = %q reached the backend", k, v)
		}
	}
}

// TestTrustedProxyForwardingKept: behind a trusted proxy the client is the
// address it forwarded, which the phases see before RequestFilter, over
// HTTP/1.1 and h2c alike.
func TestTrustedProxyForwardingKept(t *testing.T) {
	seen := make(chan http.Header, 1)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	clients := make(chan netip.Addr, 1)
	phases := &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}
	phases.requestFilter = func(s *proxy.Session) (bool, error) {
		clients <- s.ClientAddr
		return false, nil
	}
	r := newRig(t, phases, proxy.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil)
	_, port, _ := strings.Cut(r.addr, ":")
	for name, client := range map[string]*http.Client{"h1": h1Client(), "h2c": h2cClient()} {
		req := mustRequest(t, "GET", r.url+"/x", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7, 127.0.0.9")
		req.Header.Set("X-Forwarded-Proto", "https")
		get(t, client, req)
		h := <-seen
		if got := h.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.9, 127.0.0.1" {
			t.Errorf("%s: X-Forwarded-For = %q, want the peer appended", name, got)
		}
		if got := h.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("%s: X-Forwarded-Proto = %q, want the trusted proxy's https kept", name, got)
		}
		if got := h.Get("X-Forwarded-Port"); got != port {
			t.Errorf("%s: X-Forwarded-Port = %q, want %s", name, got, port)
		}
		if got := h.Get("X-Real-Ip"); got != "203.0.113.7" {
			t.Errorf("%s: X-Real-IP = %q, want 203.0.113.7", name, got)
		}
		if got := <-clients; got != netip.MustParseAddr("203.0.113.7") {
			t.Errorf("%s: Session.ClientAddr = %s in RequestFilter, want 203.0.113.7", name, got)
		}
	}
}

func TestHopByHopHeadersRemovedBothWays(t *testing.T) {
	seen := make(chan http.Header, 1)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		h := w.Header()
		h.Set("Connection", "X-Resp-Hop")
		h.Set("X-Resp-Hop", "1")
		h.Set("Keep-Alive", "timeout=9")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("X-End-To-End", "kept")
	}))

	// The backend really sends them: without the proxy they arrive.
	resp, _ := get(t, h1Client(), mustRequest(t, "GET", backend.URL, nil))
	for _, k := range []string{"Connection", "X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate"} {
		if resp.Header.Get(k) == "" {
			t.Fatalf("test backend does not send %s directly; the test would prove nothing", k)
		}
	}
	<-seen

	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	req := mustRequest(t, "GET", r.url, nil)
	req.Header.Set("Connection", "X-Hop, keep-alive")
	req.Header.Set("X-Hop", "1")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic eDp5")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Upgrade", "h2c") // without "Connection: upgrade" it is just hop-by-hop
	req.Header.Set("Te", "trailers, deflate")
	req.Header.Set("X-End-To-End", "kept")
	resp, _ = get(t, h1Client(), req)

	up := <-seen
	for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Upgrade"} {
		if v, ok := up[k]; ok {
			t.Errorf("upstream got hop-by-hop %s: %q", k, v)
		}
	}
	if got := up.Get("Te"); got != "trailers" {
		t.Errorf("upstream Te = %q, want only trailers", got)
	}
	if up.Get("X-End-To-End") != "kept" {
		t.Error("an end-to-end request header was lost")
	}
	for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("client got hop-by-hop %s: %q", k, v)
		}
	}
	if got := resp.Header.Get("Connection"); strings.Contains(got, "X-Resp-Hop") {
		t.Errorf("client got the upstream's Connection header %q", got)
	}
	if resp.Header.Get("X-End-To-End") != "kept" {
		t.Error("an end-to-end response header was lost")
	}
}

func TestResponseStreamsBeforeUpstreamFinishes(t *testing.T) {
	release := make(chan struct{})
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		select {
		case <-release:
			io.WriteString(w, "second")
		case <-r.Context().Done():
		}
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)

	resp, err := h1Client().Get(r.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("first;"))
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(resp.Body, first)
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(safety):
		t.Fatal("the first chunk did not arrive while the upstream was still writing")
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(first)+string(rest) != "first;second" {
		t.Fatalf("body = %q + %q, %v", first, rest, err)
	}
}

func TestRequestBodyStreamsBeforeClientFinishes(t *testing.T) {
	gotFirst := make(chan struct{})
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s", first, rest)
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)

	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "part1")
		select {
		case <-gotFirst:
			io.WriteString(pw, "part2")
			pw.Close()
		case <-time.After(safety):
			pw.CloseWithError(fmt.Errorf("upstream never saw the first part"))
		}
	}()
	resp, body := get(t, h1Client(), mustRequest(t, "POST", r.url, pr))
	if resp.StatusCode != 200 || body != "part1|part2" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestCloseIdlePeersClosesPooledConnections(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	peer := peerOf(t, backend.Server, proxy.SchemeHTTP1)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)

	get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	var asked []proxy.Peer
	r.proxy.CloseIdlePeers(func(p proxy.Peer) bool { asked = append(asked, p); return true })
	if len(asked) != 1 || asked[0].Address != peer.Address || asked[0].Scheme != peer.Scheme {
		t.Fatalf("CloseIdlePeers offered %+v, want the one pooled peer", asked)
	}
	get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if backend.closed.Load() != 0 || backend.accepted.Load() != 1 {
		t.Fatalf("a kept peer lost its connection: accepted %d closed %d", backend.accepted.Load(), backend.closed.Load())
	}

	r.proxy.CloseIdlePeers(func(proxy.Peer) bool { return false })
	waitFor(t, "the pooled upstream connection to close", func() bool { return backend.closed.Load() == 1 })
	resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != 200 || backend.accepted.Load() != 2 {
		t.Fatalf("after dropping the peer: status %d, %d connections", resp.StatusCode, backend.accepted.Load())
	}
}

func TestPhaseOrderOnSuccess(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	calls, logs := r.settle(t)
	want := []string{"RequestFilter", "UpstreamPeer", "UpstreamRequestFilter", "ResponseFilter", "Logging"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	if len(logs) != 1 || logs[0].status != 200 || logs[0].err != nil || logs[0].attempt != 1 {
		t.Errorf("logs = %+v", logs)
	}
}

// Session.Elapsed, which Logging reads, spans the response body, a slow
// one included, and no more than the client saw: on a keep-alive
// connection each request's own, none the one before's.
func TestElapsedSpansTheResponse(t *testing.T) {
	const pause = 30 * time.Millisecond
	be := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		if r.URL.Path == "/slow" {
			time.Sleep(pause) // the body's second half comes late
		}
		io.WriteString(w, "b")
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, be.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	client := h1Client()
	var seen []time.Duration
	for _, path := range []string{"/slow", "/fast", "/slow"} {
		began := time.Now()
		if resp, body := get(t, client, mustRequest(t, "GET", r.url+path, nil)); resp.StatusCode != 200 || body != "ab" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
		seen = append(seen, time.Since(began))
	}
	_, logs := r.settle(t)
	if len(logs) != 3 {
		t.Fatalf("%d log entries, want 3", len(logs))
	}
	for i, l := range logs {
		if l.elapsed <= 0 || l.elapsed > seen[i] || i != 1 && l.elapsed < pause {
			t.Errorf("request %d: Elapsed %v, the client saw %v (the slow ones pause %v)", i, l.elapsed, seen[i], pause)
		}
	}
}
