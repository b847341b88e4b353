package router

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/lb"
)

// passiveRouter is a router for host "a.test" whose upstream "u" lists
// addrs with passive health p and no retries.
func passiveRouter(t *testing.T, p snapshot.PassiveHealth, addrs ...string) *Router {
	t.Helper()
	registry := lb.NewRegistry(lb.RegistryOptions{Logger: logtest.Logger(t)})
	t.Cleanup(registry.Close)
	r := New(registry, nil)
	s := snap(host("a.test", prefix("/", "u")))
	for _, a := range addrs {
		s.Upstreams[0].Endpoints = append(s.Upstreams[0].Endpoints, snapshot.Endpoint{Address: a})
	}
	s.Upstreams[0].Passive = p
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	return r
}

// begin runs the phases of one request up to the choice of a backend.
func begin(t *testing.T, r *Router) (*proxy.Session, *RequestCtx) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://a.test/", nil)
	s := &proxy.Session{Request: req, Writer: httptest.NewRecorder(), Attempt: 1}
	ctx := r.NewCtx()
	if handled, err := r.RequestFilter(s, ctx); handled || err != nil {
		t.Fatalf("RequestFilter: handled %v, %v", handled, err)
	}
	if _, err := r.UpstreamPeer(s, ctx); err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

// TestLoggingJudgesTheBackendsResponse: Logging counts a response against
// the backend that sent it as the upstream's FailingResponses says, never
// a status the proxy made up, and never twice.
func TestLoggingJudgesTheBackendsResponse(t *testing.T) {
	server := snapshot.PassiveHealth{ConsecutiveFailures: 1, FailingResponses: snapshot.FailingResponsesServer}
	gateway := snapshot.PassiveHealth{ConsecutiveFailures: 1, FailingResponses: snapshot.FailingResponsesGateway}
	tests := []struct {
		name    string
		passive snapshot.PassiveHealth
		status  int   // the backend's answer; 0: none
		err     error // what ended the request
		ejected bool
	}{
		{"500 under ServerErrors", server, 500, nil, true},
		{"503 under ServerErrors", server, 503, nil, true},
		{"404 under ServerErrors", server, 404, nil, false},
		{"500 under GatewayErrors", gateway, 500, nil, false},
		{"502 under GatewayErrors", gateway, 502, nil, true},
		{"503 counting no responses", snapshot.PassiveHealth{ConsecutiveFailures: 1}, 503, nil, false},
		{"body broken after a 200", snapshot.PassiveHealth{ConsecutiveFailures: 1}, 200, errors.New("reset"), true},
		{"client gone during a 500", server, 500, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := passiveRouter(t, tt.passive, "192.0.2.1:80")
			s, ctx := begin(t, r)
			b := ctx.backend
			if tt.status != 0 {
				if err := r.ResponseFilter(s, &proxy.Response{StatusCode: tt.status}, ctx); err != nil {
					t.Fatal(err)
				}
				s.Status = tt.status
			}
			r.Logging(s, tt.err, ctx)
			if b.Available() == tt.ejected || b.Inflight() != 0 {
				t.Fatalf("available %v (want %v), in flight %d", b.Available(), !tt.ejected, b.Inflight())
			}
		})
	}
}

// TestProxyOwnErrorIsNotCountedTwice: a failed connect counts once, in
// FailToConnect; the 502 the proxy then answers is not the backend's.
func TestProxyOwnErrorIsNotCountedTwice(t *testing.T) {
	r := passiveRouter(t, snapshot.PassiveHealth{ConsecutiveFailures: 2, FailingResponses: snapshot.FailingResponsesServer}, "192.0.2.1:80")
	s, ctx := begin(t, r)
	b := ctx.backend
	r.FailToConnect(s, &ctx.peer, errors.New("refused"), ctx)
	s.Status = http.StatusBadGateway
	r.Logging(s, &proxy.Error{Status: http.StatusBadGateway}, ctx)
	if !b.Available() || b.Inflight() != 0 {
		t.Fatalf("one failed connect: available %v (want true, limit 2), in flight %d", b.Available(), b.Inflight())
	}
}

// TestProxyEjectsBackendAnswering500: through the proxy, a backend that
// answers 500 is ejected after ConsecutiveFailures answers and its healthy
// sibling takes all the traffic; with no failing responses configured it
// keeps its share.
func TestProxyEjectsBackendAnswering500(t *testing.T) {
	for _, tt := range []struct {
		failing     snapshot.FailingResponses
		wantBadHits int64
	}{
		{snapshot.FailingResponsesServer, 3},
		{snapshot.FailingResponsesNone, 20},
	} {
		t.Run(string(tt.failing), func(t *testing.T) {
			var badHits atomic.Int64
			bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				badHits.Add(1)
				w.WriteHeader(http.StatusInternalServerError)
			}))
			t.Cleanup(bad.Close)
			good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
			t.Cleanup(good.Close)
			r := passiveRouter(t, snapshot.PassiveHealth{ConsecutiveFailures: 3, FailingResponses: tt.failing},
				bad.Listener.Addr().String(), good.Listener.Addr().String())
			p := proxy.New[*RequestCtx](r, proxy.Options{Logger: logtest.Logger(t)})
			t.Cleanup(func() { p.CloseIdlePeers(func(proxy.Peer) bool { return false }) })

			statuses := map[int]int{}
			for range 40 {
				rec := httptest.NewRecorder()
				p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://a.test/", nil))
				statuses[rec.Code]++
			}
			if n := badHits.Load(); n != tt.wantBadHits || statuses[200]+statuses[500] != 40 {
				t.Fatalf("the 500 backend got %d of 40 requests, want %d (statuses %v)", n, tt.wantBadHits, statuses)
			}
		})
	}
}
