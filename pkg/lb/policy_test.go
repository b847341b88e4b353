package lb

import (
	"strings"
	"testing"
)

func TestRoundRobinIsEven(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 16} {
		t.Run(strings.Repeat("b", n), func(t *testing.T) {
			p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "p", Targets: targets(addrs(n)...)})
			const rounds = 50
			// Any window of n consecutive picks visits every backend once.
			for r := range rounds {
				seen := map[string]bool{}
				for range n {
					seen[p.Pick(nil).Addr()] = true
				}
				if len(seen) != n {
					t.Fatalf("round %d visited %d of %d backends", r, len(seen), n)
				}
			}
		})
	}
}

func TestSmoothWeightedSequence(t *testing.T) {
	a, b, c := "192.0.2.1:80", "192.0.2.2:80", "192.0.2.3:80"
	p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "w", Policy: Weighted,
		Targets: []Target{{Addr: a, Weight: 5}, {Addr: b, Weight: 1}, {Addr: c, Weight: 1}}})
	want := []string{a, a, b, a, c, a, a}
	for period := range 3 {
		for i, w := range want {
			if got := p.Pick(nil).Addr(); got != w {
				t.Fatalf("period %d pick %d = %s, want %s (sequence a a b a c a a)", period, i, got, w)
			}
		}
	}
}

func TestSmoothWeightedDistribution(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		want    []int // picks per backend per period (sum of weights)
	}{
		{"5 1 1", []int{5, 1, 1}, []int{5, 1, 1}},
		{"equal", []int{2, 2, 2}, []int{2, 2, 2}},
		{"3 2 1", []int{3, 2, 1}, []int{3, 2, 1}},
		{"zero and negative mean 1", []int{0, -4, 2}, []int{1, 1, 2}},
		{"heavy", []int{100, 1}, []int{100, 1}},
		{"above max is clamped", []int{MaxWeight + 5, 1}, []int{MaxWeight, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := addrs(len(tt.weights))
			cfg := PoolConfig{Name: "w", Policy: Weighted}
			period := 0
			for i, w := range tt.weights {
				cfg.Targets = append(cfg.Targets, Target{Addr: as[i], Weight: w})
				period += tt.want[i]
			}
			p := onePool(t, newTestRegistry(t, nil), cfg)
			periods := 3
			if period > 1000 {
				periods = 1
			}
			got := count(p, period*periods)
			for i, a := range as {
				if got[a] != tt.want[i]*periods {
					t.Fatalf("%s got %d picks, want %d (all: %v)", a, got[a], tt.want[i]*periods, got)
				}
			}
		})
	}
}

func TestSmoothWeightedSkipsUnavailable(t *testing.T) {
	as := addrs(3)
	p := onePool(t, newTestRegistry(t, newFakeClock()), PoolConfig{Name: "w", Policy: Weighted,
		Targets: []Target{{Addr: as[0], Weight: 5}, {Addr: as[1], Weight: 1}, {Addr: as[2], Weight: 1}}})
	eject(t, p.Backends()[0])
	got := count(p, 100)
	if got[as[0]] != 0 || got[as[1]] != 50 || got[as[2]] != 50 {
		t.Fatalf("with the heavy backend ejected the rest should split evenly, got %v", got)
	}
}

func TestLeastRequestPrefersLeastLoaded(t *testing.T) {
	p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "l", Policy: LeastRequest, Targets: targets(addrs(3)...)})
	bs := p.Backends()
	bs[0].Begin()
	bs[0].Begin()
	bs[1].Begin()
	for i := range 20 {
		if got := p.Pick(nil); got != bs[2] {
			t.Fatalf("pick %d = %s with in-flight 2/1/0, want the idle %s", i, got, bs[2])
		}
	}
	bs[2].Begin()
	bs[2].Begin()
	if got := p.Pick(nil); got != bs[1] {
		t.Fatalf("pick = %s with in-flight 2/1/2, want %s", got, bs[1])
	}
}

func TestLeastRequestSpreadsTies(t *testing.T) {
	p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "l", Policy: LeastRequest, Targets: targets(addrs(4)...)})
	// Idle pool: every pick is a four-way tie and must rotate.
	got := count(p, 400)
	for _, b := range p.Backends() {
		if got[b.Addr()] != 100 {
			t.Fatalf("ties did not spread evenly: %v", got)
		}
	}
	// Requests that never end: each pick goes to a least-loaded backend, so
	// the load stays level.
	for range 40 {
		p.Pick(nil).Begin()
	}
	for _, b := range p.Backends() {
		if b.Inflight() != 10 {
			t.Fatalf("%s has %d in flight after 40 picks over 4 backends, want 10", b, b.Inflight())
		}
	}
}
