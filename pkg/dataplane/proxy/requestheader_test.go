package proxy_test

import (
	"io"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// seenFields is what RequestFilter saw of the client's fields.
type seenFields struct {
	mu      sync.Mutex
	nilMap  bool
	mapSays string   // Request.Header.Get("X-A")
	view    []string // RequestHeader().All(), "name: value"
	client  netip.Addr
}

func (f *seenFields) hook(s *proxy.Session) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nilMap, f.mapSays, f.view, f.client = s.Request.Header == nil, s.Request.Header.Get("X-A"), nil, s.ClientAddr
	for name, value := range s.RequestHeader().All() {
		f.view = append(f.view, name+": "+value)
	}
	return false, nil
}

func (f *seenFields) get() seenFields {
	f.mu.Lock()
	defer f.mu.Unlock()
	return seenFields{nilMap: f.nilMap, mapSays: f.mapSays, view: f.view, client: f.client}
}

// mapPhases are phases that say nothing about the header map, as an
// embedder's usually are: they embed the interface, not a type.
type mapPhases struct{ proxy.Phases[*testCtx] }

// TestHeaderMapOnlyForPhasesThatReadIt: over HTTP/1, phases that say they
// read no Request.Header get none (nil), and the client's fields, in
// order and as spelled, from RequestHeader; phases that say they read it,
// or say nothing, get it filled. Over HTTP/2 the map is always there
// (x/net makes it) and RequestHeader is made from it.
func TestHeaderMapOnlyForPhasesThatReadIt(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for _, tc := range []struct {
		name    string
		phases  func(*testPhases) proxy.Phases[*testCtx]
		h2      bool
		wantMap bool
	}{
		{"says it reads none", func(p *testPhases) proxy.Phases[*testCtx] { return p }, false, false},
		{"says it reads it", func(p *testPhases) proxy.Phases[*testCtx] { p.readsMap = true; return p }, false, true},
		{"says nothing", func(p *testPhases) proxy.Phases[*testCtx] { return mapPhases{p} }, false, true},
		{"HTTP/2", func(p *testPhases) proxy.Phases[*testCtx] { return p }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen seenFields
			tp := &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}, requestFilter: seen.hook}
			p := proxy.New[*testCtx](tc.phases(tp), proxy.Options{})
			if got := p.ReadsRequestHeader(); got != (tc.wantMap && !tc.h2) {
				t.Errorf("Proxy.ReadsRequestHeader = %v", got)
			}
			r := newRigOf(t, tp, p)
			if tc.h2 {
				req := mustRequest(t, "GET", r.url, nil)
				req.Header.Set("X-A", "1")
				if resp, _ := get(t, h2cClient(), req); resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			} else {
				_, _, resp := rawRequest(t, r, "GET / HTTP/1.1\r\nHost: app.test\r\nx-a: 1\r\nX-B: 2\r\nx-a: 3\r\n\r\n")
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			got := seen.get()
			if got.nilMap == tc.wantMap || (tc.wantMap && got.mapSays != "1") {
				t.Errorf("Request.Header nil %v, X-A %q; want a map: %v", got.nilMap, got.mapSays, tc.wantMap)
			}
			want := []string{"x-a: 1", "X-B: 2", "x-a: 3"}
			if tc.h2 {
				slices.Sort(got.view) // made from the map: no order
				want = []string{"Accept-Encoding: gzip", "User-Agent: Go-http-client/2.0", "X-A: 1"}
			}
			if !slices.Equal(got.view, want) {
				t.Errorf("RequestHeader = %q, want %q", got.view, want)
			}
		})
	}
}

// TestForwardedForFromTrustedPeerWithoutHeaderMap: the client a trusted
// peer forwarded for is read from the fields, not the (absent) map, and
// the peer is appended to its X-Forwarded-For.
func TestForwardedForFromTrustedPeerWithoutHeaderMap(t *testing.T) {
	got := make(chan http.Header, 1)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	var seen seenFields
	tp := &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}, requestFilter: seen.hook}
	trusted, err := proxy.ParseTrustedProxies("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	r := newRigOf(t, tp, proxy.New[*testCtx](tp, proxy.Options{TrustedProxies: trusted}))
	rawRequest(t, r, "GET / HTTP/1.1\r\nHost: app.test\r\nx-forwarded-for: 192.0.2.1\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")
	h := within(t, "the backend's request", safety, got)
	if xff, real := h.Values("X-Forwarded-For"), h.Get("X-Real-Ip"); !slices.Equal(xff, []string{"192.0.2.1, 203.0.113.7, 127.0.0.1"}) || real != "203.0.113.7" {
		t.Errorf("backend saw X-Forwarded-For %q, X-Real-Ip %q; want the client's list and 127.0.0.1, and 203.0.113.7", xff, real)
	}
	if c := seen.get().client.String(); c != "203.0.113.7" {
		t.Errorf("Session.ClientAddr %s, want 203.0.113.7", c)
	}
}

// newRigOf serves p, whose phases are tp, as newRig does.
func newRigOf(t *testing.T, tp *testPhases, p *proxy.Proxy[*testCtx]) *rig {
	t.Helper()
	r := newRigServing(t, p, nil)
	r.phases = tp
	return r
}
