package lb

import (
	"slices"
	"testing"
)

// The selection state of a pool (smooth weighted current weights, the
// round-robin cursor) belongs to its endpoints, not to one snapshot: under
// EndpointSlice churn a pool is rebuilt far more often than a canary's light
// backend comes up in the rotation, and restarting at every swap starves it.

// updates are the configuration changes a pool sees between two requests
// that leave its own endpoints and weights as they were.
var updates = []struct {
	name   string
	update func(i int, cfg PoolConfig) []PoolConfig
}{
	{"identical", func(_ int, cfg PoolConfig) []PoolConfig { return []PoolConfig{cfg} }},
	{"another pool changes", func(i int, cfg PoolConfig) []PoolConfig {
		other := addrs(10 + i%5)[10:]
		return []PoolConfig{cfg, {Name: "other", Targets: targets(other...)}}
	}},
	{"endpoints reordered", func(i int, cfg PoolConfig) []PoolConfig {
		if i%2 == 1 {
			cfg.Targets = slices.Clone(cfg.Targets)
			slices.Reverse(cfg.Targets)
		}
		return []PoolConfig{cfg}
	}},
}

func TestWeightedStateSurvivesUpdate(t *testing.T) {
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			r := newTestRegistry(t, nil)
			heavy, light := "192.0.2.1:80", "192.0.2.2:80"
			cfg := PoolConfig{Name: "canary", Policy: Weighted,
				Targets: []Target{{Addr: heavy, Weight: 99}, {Addr: light, Weight: 1}}}
			got := map[string]int{}
			for i := range 1000 {
				p := r.Update(u.update(i, cfg))["canary"]
				got[p.Pick(nil).Addr()]++
			}
			if n := got[light]; n < 9 || n > 11 {
				t.Fatalf("99:1 pool updated before every request sent %d of 1000 to the light backend, want 10 (all: %v)", n, got)
			}
		})
	}
}

func TestRoundRobinCursorSurvivesUpdate(t *testing.T) {
	// Round robin walks the pool in configuration order, so only changes
	// that keep the order can keep the walk even; translate sorts endpoints
	// by address, so an unchanged Service keeps its order.
	for _, u := range updates[:2] {
		t.Run(u.name, func(t *testing.T) {
			r := newTestRegistry(t, nil)
			cfg := PoolConfig{Name: "rr", Targets: targets(addrs(3)...)}
			var picks []string
			for i := range 300 {
				picks = append(picks, r.Update(u.update(i, cfg))["rr"].Pick(nil).Addr())
			}
			counts := map[string]int{}
			for _, a := range picks {
				counts[a]++
			}
			for _, a := range addrs(3) {
				if counts[a] != 100 {
					t.Fatalf("300 picks over 3 backends, each from a fresh pool: %v, want 100 each", counts)
				}
			}
		})
	}
}

func TestLeastRequestCountsSurviveUpdate(t *testing.T) {
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			r := newTestRegistry(t, nil)
			as := addrs(3)
			cfg := PoolConfig{Name: "lr", Policy: LeastRequest, Targets: targets(as...)}
			old := r.Update(u.update(0, cfg))["lr"]
			busy := old.Backends()[0]
			for range 5 { // long requests that started on the old pool
				busy.Begin()
			}
			for i := range 100 {
				p := r.Update(u.update(i+1, cfg))["lr"]
				b := p.Pick(nil)
				if b.Addr() == as[0] {
					t.Fatalf("pick %d after an update went to %s, which has 5 requests in flight", i, b)
				}
				b.Begin()
				b.End(false)
			}
			cur := r.Update(u.update(0, cfg))["lr"]
			for range 5 { // they end through the pool they started on
				busy.End(false)
			}
			for _, b := range cur.Backends() {
				if b.Inflight() != 0 {
					t.Fatalf("%s has %d in flight after every request ended", b, b.Inflight())
				}
			}
		})
	}
}

func TestSelectionStateAcrossEmptyPool(t *testing.T) {
	for _, policy := range policies {
		t.Run(string(policy), func(t *testing.T) {
			r := newTestRegistry(t, nil)
			full := PoolConfig{Name: "p", Policy: policy, Targets: targets(addrs(2)...)}
			onePool(t, r, full).Pick(nil)
			if b := onePool(t, r, PoolConfig{Name: "p", Policy: policy}).Pick(nil); b != nil {
				t.Fatalf("empty pool picked %v", b)
			}
			if got := count(onePool(t, r, full), 4); len(got) != 2 {
				t.Fatalf("pool refilled after being empty picked %v, want both backends", got)
			}
		})
	}
}
