package lb

import (
	"fmt"
	"testing"
)

var policies = []Policy{RoundRobin, Weighted, LeastRequest}

func TestTried(t *testing.T) {
	bs := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "p", Targets: targets(addrs(10)...)}).Backends()
	var tr Tried
	tr.Add(bs[0])
	tr.Add(bs[0])
	tr.Add(nil)
	if tr.Len() != 1 || !tr.Has(bs[0]) || tr.Has(bs[1]) {
		t.Fatalf("after Add(b0) twice and Add(nil): Len=%d Has(b0)=%v Has(b1)=%v", tr.Len(), tr.Has(bs[0]), tr.Has(bs[1]))
	}
	for _, b := range bs {
		tr.Add(b)
	}
	if tr.Len() != 8 || !tr.Has(bs[7]) || tr.Has(bs[8]) {
		t.Fatalf("Tried should keep the first 8: Len=%d", tr.Len())
	}
	tr.Reset()
	var nilTried *Tried
	if tr.Len() != 0 || nilTried.Len() != 0 || nilTried.Has(bs[0]) {
		t.Fatal("a reset or nil Tried is not empty")
	}
}

func TestPickExcludesTried(t *testing.T) {
	for _, policy := range policies {
		t.Run(string(policy), func(t *testing.T) {
			p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "p", Policy: policy, Targets: targets(addrs(3)...)})
			bs := p.Backends()
			var tr Tried
			tr.Add(bs[0])
			tr.Add(bs[2])
			for i := range 20 {
				if got := p.Pick(&tr); got != bs[1] {
					t.Fatalf("pick %d = %v, want the only untried %v", i, got, bs[1])
				}
			}
			tr.Add(bs[1])
			if got := p.Pick(&tr); got != nil {
				t.Fatalf("every backend tried, Pick = %v, want nil", got)
			}
		})
	}
}

func TestPickFailsOpen(t *testing.T) {
	for _, policy := range policies {
		t.Run(string(policy), func(t *testing.T) {
			p := onePool(t, newTestRegistry(t, newFakeClock()), PoolConfig{Name: "p", Policy: policy, Targets: targets(addrs(3)...)})
			bs := p.Backends()
			eject(t, bs[0])
			eject(t, bs[1])
			for i := range 20 {
				if got := p.Pick(nil); got != bs[2] {
					t.Fatalf("pick %d = %v, want the only available %v", i, got, bs[2])
				}
			}
			eject(t, bs[2])
			// All ejected: traffic still flows, spread over the untried ones.
			var tr Tried
			tr.Add(bs[1])
			seen := map[*Backend]int{}
			for range 30 {
				seen[p.Pick(&tr)]++
			}
			if seen[nil] != 0 || seen[bs[1]] != 0 || seen[bs[0]] == 0 || seen[bs[2]] == 0 {
				t.Fatalf("fail-open picks = %v, want only b0 and b2, both used", seen)
			}
		})
	}
}

func TestPickEmptyPool(t *testing.T) {
	for _, policy := range policies {
		p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "empty", Policy: policy})
		if got := p.Pick(nil); got != nil || p.Len() != 0 {
			t.Fatalf("%s: empty pool picked %v", policy, got)
		}
	}
}

func TestPickAllocatesNothing(t *testing.T) {
	for _, policy := range policies {
		for _, scenario := range []string{"healthy", "one ejected", "all ejected"} {
			t.Run(string(policy)+"/"+scenario, func(t *testing.T) {
				p := onePool(t, newTestRegistry(t, newFakeClock()), PoolConfig{Name: "p", Policy: policy, Targets: targets(addrs(4)...)})
				bs := p.Backends()
				switch scenario {
				case "one ejected":
					eject(t, bs[1])
				case "all ejected":
					for _, b := range bs {
						eject(t, b)
					}
				}
				allocs := testing.AllocsPerRun(1000, func() {
					var tr Tried // on the stack, as in a request context
					b := p.Pick(&tr)
					tr.Add(b)
					b = p.Pick(&tr)
					b.Begin()
					b.End(false)
					p.Pick(nil)
				})
				if allocs != 0 {
					t.Fatalf("Pick allocated %.1f times per run, want 0", allocs)
				}
			})
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, policy := range policies {
		for _, n := range []int{3, 100} {
			b.Run(fmt.Sprintf("%s/backends=%d", policy, n), func(b *testing.B) {
				p := onePool(b, NewRegistry(RegistryOptions{}), PoolConfig{Name: "p", Policy: policy, Targets: targets(addrs(n)...)})
				b.ReportAllocs()
				for b.Loop() {
					be := p.Pick(nil)
					be.Begin()
					be.End(false)
				}
			})
		}
	}
}

func BenchmarkPickParallel(b *testing.B) {
	for _, policy := range policies {
		b.Run(string(policy), func(b *testing.B) {
			p := onePool(b, NewRegistry(RegistryOptions{}), PoolConfig{Name: "p", Policy: policy, Targets: targets(addrs(8)...)})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var tr Tried
					be := p.Pick(&tr)
					be.Begin()
					be.End(false)
				}
			})
		})
	}
}
