package router

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// flaky answers status to its first failures requests, then 200 with
// the request body's length; it counts the requests it got and the
// request bodies' lengths.
type flaky struct {
	status   int
	failures int64
	calls    atomic.Int64
	lengths  []int // guarded by being written by one request at a time
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.lengths = append(f.lengths, len(body))
	if f.calls.Add(1) <= f.failures {
		w.WriteHeader(f.status)
		return
	}
	w.Write([]byte("ok"))
}

func retried(attempts int, backoff time.Duration, codes ...int) snapshot.Route {
	r := prefix("/", "main")
	r.Retry = &snapshot.RouteRetry{Attempts: attempts, Codes: codes, Backoff: backoff}
	return r
}

// The conformance suite's HTTPRouteRetry cases, with Attempts counting
// every attempt (the snapshot's meaning): retried statuses are retried on
// the same backend until one succeeds or the attempts run out; other
// statuses are answered as they are.
func TestRouteRetry(t *testing.T) {
	all := []int{500, 502, 503, 504}
	tests := []struct {
		name      string
		route     snapshot.Route
		status    int
		failures  int64
		want      int
		wantCalls int64
	}{
		{"500 twice, 4 attempts", retried(4, 0, 500), 500, 2, 200, 3},
		{"500 four times, 4 attempts", retried(4, 0, 500), 500, 4, 500, 4},
		{"503 not listed", retried(4, 0, 500), 503, 2, 503, 1},
		{"502 once, 3 attempts", retried(3, 0, all...), 502, 1, 200, 2},
		{"504 three times, 3 attempts", retried(3, 0, all...), 504, 3, 504, 3},
		{"one attempt is no retry", retried(1, 0, all...), 500, 1, 500, 1},
		{"no codes", retried(3, 0), 500, 1, 500, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{status: tt.status, failures: tt.failures}
			rig := newProxyRig(t)
			rig.serve(t, "retry.test", []snapshot.Route{tt.route}, map[string]string{"main": backend(t, f.ServeHTTP)})
			resp, _ := rig.do(t, rigRequest(t, "GET", "retry.test", "/", nil))
			if resp.StatusCode != tt.want || f.calls.Load() != tt.wantCalls {
				t.Errorf("status %d after %d attempts, want %d after %d", resp.StatusCode, f.calls.Load(), tt.want, tt.wantCalls)
			}
		})
	}
}

// A request body the proxy kept (64 KiB at most) is sent whole again by
// each retry; a larger one streamed through, is gone, and its request is
// not retried.
func TestRouteRetryResendsOnlyKeptBodies(t *testing.T) {
	for _, tt := range []struct {
		size        int
		want        int
		wantLengths []int
	}{
		{7, 200, []int{7, 7}},
		{64 << 10, 200, []int{64 << 10, 64 << 10}},
		{64<<10 + 1, 500, []int{64<<10 + 1}},
	} {
		f := &flaky{status: 500, failures: 1}
		rig := newProxyRig(t)
		rig.serve(t, "retry.test", []snapshot.Route{retried(3, 0, 500)}, map[string]string{"main": backend(t, f.ServeHTTP)})
		resp, _ := rig.do(t, rigRequest(t, "POST", "retry.test", "/", strings.NewReader(strings.Repeat("x", tt.size))))
		if resp.StatusCode != tt.want || !slices.Equal(f.lengths, tt.wantLengths) {
			t.Errorf("body of %d bytes: status %d, bodies received %v, want %d and %v", tt.size, resp.StatusCode, f.lengths, tt.want, tt.wantLengths)
		}
	}
}

// Retries wait the backoff between attempts.
func TestRouteRetryBackoff(t *testing.T) {
	f := &flaky{status: 503, failures: 2}
	rig := newProxyRig(t)
	rig.serve(t, "retry.test", []snapshot.Route{retried(3, 50*time.Millisecond, 503)}, map[string]string{"main": backend(t, f.ServeHTTP)})
	start := time.Now()
	resp, _ := rig.do(t, rigRequest(t, "GET", "retry.test", "/", nil))
	if elapsed := time.Since(start); resp.StatusCode != 200 || elapsed < 100*time.Millisecond {
		t.Errorf("status %d after %v, want 200 after two backoffs of 50ms", resp.StatusCode, elapsed)
	}
}

// stalled answers after ?delay= (a duration), or when the test ends
// (t.Context ends before the cleanups that close servers run).
func stalled(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			select {
			case <-time.After(d):
			case <-t.Context().Done():
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("ok"))
	}
}

func timed(path string, request, backend time.Duration) snapshot.Route {
	r := prefix(path, "main")
	r.Timeouts = snapshot.RouteTimeouts{Request: request, BackendRequest: backend}
	return r
}

// The conformance suite's HTTPRouteTimeoutRequest and
// HTTPRouteTimeoutBackendRequest cases: a backend slower than the route's
// timeout gets the client a 504 when the timeout passes; zero means none.
func TestRouteTimeouts(t *testing.T) {
	rig := newProxyRig(t)
	rig.serve(t, "timeout.test", []snapshot.Route{
		timed("/request-timeout", 200*time.Millisecond, 0),
		timed("/backend-timeout", 0, 200*time.Millisecond),
		timed("/disabled", 0, 0),
	}, map[string]string{"main": backend(t, stalled(t))})
	tests := []struct {
		target string
		want   int
	}{
		{"/request-timeout", 200},
		{"/request-timeout?delay=10s", 504},
		{"/backend-timeout", 200},
		{"/backend-timeout?delay=10s", 504},
		{"/disabled?delay=400ms", 200},
	}
	for _, tt := range tests {
		start := time.Now()
		resp, body := rig.do(t, rigRequest(t, "GET", "timeout.test", tt.target, nil))
		elapsed := time.Since(start)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d (%q), want %d", tt.target, resp.StatusCode, body, tt.want)
		}
		if tt.want == 504 && elapsed > 5*time.Second {
			t.Errorf("%s: 504 after %v, want it when the timeout passes", tt.target, elapsed)
		}
	}
}

// The request timeout covers retries and their backoff: a backend that
// keeps failing gets the client a 504 at the deadline, not the last 500.
// An attempt that runs out of its own time is retried as a 504.
func TestRouteTimeoutsWithRetries(t *testing.T) {
	always := &flaky{status: 500, failures: 1 << 30}
	rig := newProxyRig(t)
	deadline := retried(100, 50*time.Millisecond, 500)
	deadline.Timeouts.Request = 300 * time.Millisecond
	rig.serve(t, "timeout.test", []snapshot.Route{deadline}, map[string]string{"main": backend(t, always.ServeHTTP)})
	if resp, body := rig.do(t, rigRequest(t, "GET", "timeout.test", "/", nil)); resp.StatusCode != 504 {
		t.Errorf("failing backend under a request timeout: %d (%q), want 504", resp.StatusCode, body)
	}

	var calls atomic.Int64
	first := stalled(t)
	slowOnce := func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			r.URL.RawQuery = "delay=10s"
		}
		first(w, r)
	}
	perAttempt := retried(2, 0, 504)
	perAttempt.Timeouts.BackendRequest = 200 * time.Millisecond
	rig.serve(t, "timeout.test", []snapshot.Route{perAttempt}, map[string]string{"main": backend(t, slowOnce)})
	if resp, body := rig.do(t, rigRequest(t, "GET", "timeout.test", "/", nil)); resp.StatusCode != 200 || calls.Load() != 2 {
		t.Errorf("attempt timeout retried: %d (%q) after %d attempts, want 200 after 2", resp.StatusCode, body, calls.Load())
	}
}

// mirrored records the paths of the requests it gets; block holds every
// answer until the test ends.
type mirrored struct {
	paths chan string
	block bool
}

func newMirrored(t *testing.T, block bool) (*mirrored, string) {
	m := &mirrored{paths: make(chan string, 16), block: block}
	return m, backend(t, func(w http.ResponseWriter, r *http.Request) {
		m.paths <- r.URL.Path + " " + r.Header.Get("X-Header-Set")
		if m.block {
			<-t.Context().Done()
		}
		w.WriteHeader(http.StatusTeapot)
	})
}

func (m *mirrored) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-m.paths:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("the mirror got no request")
		return ""
	}
}

// Each mirror gets a copy of the upstream request, route filters applied;
// the client gets the main backend's answer, whatever the mirrors do,
// even when a mirror never answers.
func TestMirrors(t *testing.T) {
	m1, addr1 := newMirrored(t, false)
	m2, addr2 := newMirrored(t, true)
	rig := newProxyRig(t)
	rig.serve(t, "mirror.test", []snapshot.Route{filtered("/", snapshot.RouteFilters{
		Mirrors:        []string{"m1", "m2"},
		RequestHeaders: snapshot.HeaderEdits{Set: []snapshot.Header{{Name: "X-Header-Set", Value: "edited"}}},
	})}, map[string]string{"main": backend(t, echoHandler), "m1": addr1, "m2": addr2})
	resp, _ := rig.do(t, rigRequest(t, "GET", "mirror.test", "/mirror?id=1", nil))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want the main backend's 200", resp.StatusCode)
	}
	for i, m := range []*mirrored{m1, m2} {
		if got := m.next(t); got != "/mirror edited" {
			t.Errorf("mirror %d got %q, want %q", i+1, got, "/mirror edited")
		}
	}
}

// Mirrors under way are bounded: when every slot is held by a mirror that
// does not answer, further copies are dropped and counted, and the main
// requests go on unharmed.
func TestMirrorsAreBounded(t *testing.T) {
	m, addr := newMirrored(t, true)
	rig := newProxyRig(t)
	rig.router.mirrorSlots = make(chan struct{}, 1)
	rig.serve(t, "mirror.test", []snapshot.Route{filtered("/", snapshot.RouteFilters{Mirrors: []string{"m"}})},
		map[string]string{"main": backend(t, echoHandler), "m": addr})
	for i := range 3 {
		resp, _ := rig.do(t, rigRequest(t, "GET", "mirror.test", "/"+strconv.Itoa(i), nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", i, resp.StatusCode)
		}
		if i == 0 {
			m.next(t) // the first copy holds the only slot from now on
		}
	}
	if got := rig.router.MirrorsDropped(); got != 2 {
		t.Errorf("%d copies dropped, want 2", got)
	}
}

// A mirror's copy of the request outlives the request: it keeps its
// strings when the proxy reuses the request's memory (the generated
// request ID, header fields) for the connection's next request.
func TestMirrorCopyOutlivesTheRequest(t *testing.T) {
	rig := newProxyRig(t)
	id := []byte("0123456789abcdef0123456789abcdef")
	req := rigRequest(t, "GET", "mirror.test", "/mirror", nil)
	up := proxy.Request{Method: "GET", URL: req.URL, Host: req.Host}
	up.Header.Add("X-Request-Id", unsafe.String(&id[0], len(id)))
	m, cancel := rig.router.mirrorRequest(&proxy.Session{Request: req}, &up, &upstreamRuntime{})
	defer cancel()
	copy(id, "ffffffffffffffffffffffffffffffff") // the next request's id, in the same memory
	if got := m.Header.Get("X-Request-Id"); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("the mirror's X-Request-Id became %q", got)
	}
}
