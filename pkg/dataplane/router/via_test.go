package router

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func TestHopMarkerRecognisesOnlyItsOwnEntry(t *testing.T) {
	m := newHopMarker()
	id := m.id
	for _, tc := range []struct {
		name string
		via  []string
		want bool
	}{
		{"no Via", nil, false},
		{"ours alone", []string{"1.1 " + id}, true},
		{"ours in upper case", []string{"1.1 " + strings.ToUpper(id)}, true},
		{"ours after others", []string{"1.0 fred, 1.1 p.example.net, 2 " + id}, true},
		{"ours on a second line", []string{"1.1 fred", "HTTP/1.1 " + id + " (Baton)"}, true},
		{"ours with a protocol name and extra spaces", []string{"1.1 a,   HTTP/2   " + id}, true},
		{"another process", []string{"1.1 baton-00000000, 1.1 fred"}, false},
		{"ours with a port is another host", []string{"1.1 " + id + ":8080"}, false},
		{"ours as received-protocol only", []string{id + " fred"}, false},
		{"ours inside a comment", []string{"1.1 fred (via, 1.1 " + id + " x)"}, false},
		{"received-protocol without received-by", []string{"1.1"}, false},
	} {
		h := http.Header{}
		if tc.via != nil {
			h["Via"] = tc.via
		}
		if got := m.seenIn(fieldsOf(h)); got != tc.want {
			t.Errorf("%s: seenIn(Via %q) = %v, want %v", tc.name, tc.via, got, tc.want)
		}
	}
}

func TestHopMarkerLineFollowsTheDownstreamProtocol(t *testing.T) {
	m := newHopMarker()
	for _, tc := range []struct {
		major, minor int
		want         string
	}{{1, 0, "1.0 "}, {1, 1, "1.1 "}, {2, 0, "2 "}} {
		out := http.Header{}
		m.mark(out, &http.Request{ProtoMajor: tc.major, ProtoMinor: tc.minor})
		if got := out["Via"]; !slices.Equal(got, []string{tc.want + m.id}) {
			t.Errorf("HTTP/%d.%d: Via = %q, want %q", tc.major, tc.minor, got, tc.want+m.id)
		}
	}
	if a, b := newHopMarker().id, m.id; a == b || !strings.HasPrefix(a, "baton-") || len(a) != len("baton-")+8 {
		t.Errorf("ids %q and %q: want two distinct baton-<8 hex>", a, b)
	}
}

func TestOwnViaGets508AndIsNotForwarded(t *testing.T) {
	rig := newProxyRig(t)
	backend := newEchoBackend(t, "backend")
	rig.route(t, "loop.test", snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: backend.addr}}})
	id := rig.router.HopID()
	for _, via := range [][]string{
		{"1.1 " + id},
		{"1.1 other, 1.1 " + strings.ToUpper(id)},
		{"1.0 first", "2 " + id},
	} {
		if status, _ := rig.get(t, "loop.test", http.Header{"Via": via}); status != http.StatusLoopDetected {
			t.Errorf("Via %q: status %d, want 508", via, status)
		}
	}
	if n := len(backend.vias); n != 0 {
		t.Errorf("the backend got %d looped requests, want none", n)
	}
}

func TestForeignViaIsForwardedWithOursAppended(t *testing.T) {
	rig := newProxyRig(t)
	backend := newEchoBackend(t, "backend")
	up := snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: backend.addr}},
		// An edit of Via must not remove the mark.
		RequestHeaders: snapshot.HeaderEdits{Remove: []string{"Via"}, Add: []snapshot.Header{{Name: "Via", Value: "1.1 edited"}}}}
	rig.route(t, "via.test", up)
	ours := "1.1 " + rig.router.HopID()
	if status, body := rig.get(t, "via.test", nil); status != http.StatusOK {
		t.Fatalf("status %d (%q), want 200", status, body)
	}
	if got, want := <-backend.vias, []string{"1.1 edited, " + ours}; !slices.Equal(got, want) {
		t.Errorf("backend saw Via %q, want %q", got, want)
	}

	up.RequestHeaders = snapshot.HeaderEdits{}
	rig.route(t, "via.test", up)
	rig.get(t, "via.test", http.Header{"Via": {"1.0 fred, 1.1 baton-00000000", "2 other"}})
	if got, want := <-backend.vias, []string{"1.0 fred, 1.1 baton-00000000", "2 other, " + ours}; !slices.Equal(got, want) {
		t.Errorf("backend saw Via %q, want %q", got, want)
	}
}

// TestProxyThatIsItsOwnUpstreamStopsAfterOneHop: the loop a misconfigured
// Upstream makes (its endpoint is Baton itself) costs one extra hop, not
// a request storm.
func TestProxyThatIsItsOwnUpstreamStopsAfterOneHop(t *testing.T) {
	rig := newProxyRig(t)
	rig.route(t, "self.test", snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: rig.addr}}})
	if status, body := rig.get(t, "self.test", nil); status != http.StatusLoopDetected {
		t.Errorf("status %d (%q), want 508", status, body)
	}
	if n := rig.arrivals.Load(); n != 2 {
		t.Errorf("the proxy received %d requests, want 2: the client's and its one loop", n)
	}
}

// TestLoopThroughAnotherProxyAndDeliberateChain: two processes (replicas,
// or two installations) sending to each other stop when the request is
// back at the first; chained on purpose, each adds its own entry and the
// request gets through.
func TestLoopThroughAnotherProxyAndDeliberateChain(t *testing.T) {
	a, b := newProxyRig(t), newProxyRig(t)
	a.route(t, "x.test", snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: b.addr}}})
	b.route(t, "x.test", snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: a.addr}}})
	if status, _ := a.get(t, "x.test", nil); status != http.StatusLoopDetected {
		t.Errorf("loop a→b→a: status %d, want 508", status)
	}
	if na, nb := a.arrivals.Load(), b.arrivals.Load(); na != 2 || nb != 1 {
		t.Errorf("loop a→b→a: a received %d and b %d requests, want 2 and 1", na, nb)
	}

	backend := newEchoBackend(t, "backend")
	b.route(t, "x.test", snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: backend.addr}}})
	if status, body := a.get(t, "x.test", nil); status != http.StatusOK || body != "backend" {
		t.Fatalf("chain a→b→backend: status %d (%q), want 200", status, body)
	}
	want := []string{"1.1 " + a.router.HopID() + ", 1.1 " + b.router.HopID()}
	if got := <-backend.vias; !slices.Equal(got, want) {
		t.Errorf("backend saw Via %q, want %q", got, want)
	}
}

// TestHopMarkerAllocatesNothing: checking and marking a request without a
// Via of its own, the common case, stays off the allocator.
func TestHopMarkerAllocatesNothing(t *testing.T) {
	m := newHopMarker()
	in := &http.Request{ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Via": {"1.1 fred (x, y), 2 other"}}}
	out := http.Header{}
	fields := fieldsOf(in.Header)
	allocs := testing.AllocsPerRun(100, func() {
		if m.seenIn(fields) {
			t.Fatal("a foreign Via was taken for ours")
		}
		delete(out, "Via")
		m.mark(out, in)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
}
