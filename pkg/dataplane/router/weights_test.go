package router

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

type wb = snapshot.WeightedBackend

func w(upstream string, weight int) wb { return wb{Upstream: upstream, Weight: weight} }

// weightedSnap routes every request of a.test to backends.
func weightedSnap(backends ...wb) *snapshot.Snapshot {
	return snapWith(host("a.test", gwRoute(pfx, "/", "", withBackends(backends...))))
}

// pick matches one request of a.test and names the upstream chosen.
func pick(s *snapshot.Snapshot, table *Table) string {
	m, ok := table.Match("a.test", "/")
	return upstreamOf(s, m, ok)
}

// counts matches n requests against table and counts the upstreams chosen.
func counts(t *testing.T, table *Table, s *snapshot.Snapshot, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		got[pick(s, table)]++
	}
	return got
}

func TestWeightedSplit(t *testing.T) {
	tests := []struct {
		name     string
		backends []wb
		want     map[string]int // of 1000 requests
	}{
		{"70/30/0, as the conformance test", []wb{w("v1", 70), w("v2", 30), w("v3", 0)}, map[string]int{"v1": 700, "v2": 300}},
		{"equal weights", []wb{w("a", 1), w("b", 1), w("c", 2)}, map[string]int{"a": 250, "b": 250, "c": 500}},
		{"one backend above 0", []wb{w("a", 0), w("b", 5)}, map[string]int{"b": 1000}},
		{"all 0: the route answers 500", []wb{w("a", 0), w("b", 0)}, map[string]int{"500": 1000}},
		{"an invalid backend's share answers 500", []wb{w("a", 3), {Invalid: true, Weight: 1}}, map[string]int{"a": 750, "500": 250}},
		{"the largest weights", []wb{w("a", snapshot.MaxWeight), w("b", snapshot.MaxWeight)}, map[string]int{"a": 500, "b": 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := weightedSnap(tt.backends...)
			table, err := Compile(s)
			if err != nil {
				t.Fatal(err)
			}
			got := counts(t, table, s, 1000)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for name, n := range tt.want {
				if got[name] != n {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestWeightedSplitInterleaves: smooth weighted round robin sends 3:1 as
// a a b a rather than a run of a's then a b.
func TestWeightedSplitInterleaves(t *testing.T) {
	s := weightedSnap(w("a", 3), w("b", 1))
	table, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	for range 8 {
		seq = append(seq, pick(s, table))
	}
	if got := strings.Join(seq, " "); got != "a a b a a a b a" {
		t.Fatalf("sequence %q, want the interleaving a a b a a a b a", got)
	}
}

// TestWeightedSplitContinuesAcrossSwaps: a table compiled after another
// continues its rotation. Restarting it on every swap would send each
// first pick, the heaviest backend, everything while snapshots churn.
func TestWeightedSplitContinuesAcrossSwaps(t *testing.T) {
	s := weightedSnap(w("a", 2), w("b", 1))
	var table *Table
	got := map[string]int{}
	for range 30 {
		next, err := compileAfter(s, maxScannedPrefixes, table)
		if err != nil {
			t.Fatal(err)
		}
		table = next
		got[pick(s, table)]++
	}
	if got["a"] != 20 || got["b"] != 10 {
		t.Fatalf("one request per snapshot went %v, want a 20, b 10", got)
	}
}

// TestWeightedSplitContinuesAcrossPatches: a table patched from the one
// in force (Changes listing one weighted host, compiled again from a new
// Routes slice) continues the rotation of that host, and of the weighted
// host it did not list.
func TestWeightedSplitContinuesAcrossPatches(t *testing.T) {
	r := newTestRouter(t)
	split := func() []snapshot.Route {
		return []snapshot.Route{gwRoute(pfx, "/", "", withBackends(w("a", 2), w("b", 1)))}
	}
	s := snapWith(host("listed.test", split()...), host("unlisted.test", split()...))
	got := map[string]map[string]int{"listed.test": {}, "unlisted.test": {}}
	s.Version = 1
	for v := range 30 {
		if v > 0 {
			next := *s
			next.Version, next.Hosts = s.Version+1, []snapshot.VirtualHost{host("listed.test", split()...), s.Hosts[1]}
			next.Changes = &snapshot.Changes{Base: s.Version, Hosts: []string{"listed.test"}}
			s = &next
		}
		if err := r.Apply(s); err != nil {
			t.Fatal(err)
		}
		if v > 0 && r.reuse.listed == nil {
			t.Fatalf("snapshot %d was not patched by what Changes listed", s.Version)
		}
		for name, n := range got {
			m, ok := r.current.Load().table.Match(name, "/")
			n[upstreamOf(s, m, ok)]++
		}
	}
	for name, n := range got {
		if n["a"] != 20 || n["b"] != 10 {
			t.Errorf("%s: one request per snapshot went %v, want a 20, b 10", name, n)
		}
	}
}

func TestWeightedSplitConcurrent(t *testing.T) {
	s := weightedSnap(w("a", 7), w("b", 3))
	table, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				name := pick(s, table)
				mu.Lock()
				got[name]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got["a"] != 700 || got["b"] != 300 {
		t.Fatalf("1000 concurrent requests went %v, want a 700, b 300", got)
	}
}

func TestAllZeroWeightsAnswer500(t *testing.T) {
	rig := newProxyRig(t)
	s := weightedSnap(w("a", 0))
	if err := rig.router.Apply(s); err != nil {
		t.Fatal(err)
	}
	if status, body := rig.get(t, "a.test", nil); status != http.StatusInternalServerError {
		t.Fatalf("got %d %q, want 500", status, body)
	}
}

func TestWeightedBackendsReachTheirUpstreams(t *testing.T) {
	rig := newProxyRig(t)
	a, b := newEchoBackend(t, "from a"), newEchoBackend(t, "from b")
	s := weightedSnap(w("a", 1), w("b", 1))
	s.Upstreams = []snapshot.Upstream{
		{Name: "a", Endpoints: []snapshot.Endpoint{{Address: a.addr}}},
		{Name: "b", Endpoints: []snapshot.Endpoint{{Address: b.addr}}},
	}
	if err := rig.router.Apply(s); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 4 {
		status, body := rig.get(t, "a.test", nil)
		if status != http.StatusOK {
			t.Fatalf("status %d %q", status, body)
		}
		got[body]++
	}
	if got["from a"] != 2 || got["from b"] != 2 {
		t.Fatalf("4 requests went %v, want 2 to each backend", got)
	}
}

func TestUnknownBackendUpstreamIsRefused(t *testing.T) {
	s := weightedSnap(w("a", 1))
	s.Hosts[0].Routes[0].Backends = append(s.Hosts[0].Routes[0].Backends, w("gone", 1))
	if _, err := Compile(s); err == nil || !strings.Contains(err.Error(), `unknown upstream "gone"`) {
		t.Fatalf("Compile error = %v, want unknown upstream \"gone\"", err)
	}
}
