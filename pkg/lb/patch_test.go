package lb

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPatchEqualsUpdate configures two Registries with the same random
// sequence of configurations, one by Update with every pool (sorted by
// name), the other by Patch with the pools that changed, and compares
// pools, backends, weights and each address's health settings after
// every step. Pools Patch did not touch must be the very Pools they were.
func TestPatchEqualsUpdate(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	full, patched := newTestRegistry(t, nil), newTestRegistry(t, nil)
	cfgs := map[string]PoolConfig{}
	got := map[string]*Pool{} // every pool Patch returned, and not removed since
	for step := range 300 {
		changed, removed := changePools(rng, cfgs)
		want := full.Update(sortedConfigs(cfgs))
		patchedPools := patched.Patch(changed, removed)
		where := fmt.Sprintf("seed %d step %d", seed, step)
		if len(patchedPools) != len(changed) {
			t.Fatalf("%s: Patch returned %d pools for %d changed", where, len(patchedPools), len(changed))
		}
		for _, name := range removed {
			delete(got, name)
		}
		maps.Copy(got, patchedPools)
		comparePools(t, where, got, want)
		compareAddrs(t, where, patched, full)
		// An unchanged pool is still the very Pool it was.
		patched.mu.Lock()
		for name, p := range got {
			if patched.pools[name] != p {
				t.Fatalf("%s: pool %s in force is not the Pool Patch returned last", where, name)
			}
		}
		patched.mu.Unlock()
	}
}

// changePools adds, changes or removes a few of p0..p7, whose targets
// overlap, with varying health settings.
func changePools(rng *rand.Rand, cfgs map[string]PoolConfig) (changed []PoolConfig, removed []string) {
	for n := 1 + rng.IntN(3); n > 0; n-- {
		name := fmt.Sprintf("p%d", rng.IntN(8))
		if _, ok := cfgs[name]; ok && rng.IntN(4) == 0 {
			delete(cfgs, name)
			changed = slices.DeleteFunc(changed, func(c PoolConfig) bool { return c.Name == name })
			removed = append(removed, name)
			continue
		}
		cfg := PoolConfig{Name: name, Policy: []Policy{RoundRobin, Weighted, LeastRequest}[rng.IntN(3)]}
		for k := rng.IntN(4); k > 0; k-- {
			cfg.Targets = append(cfg.Targets, Target{Addr: fmt.Sprintf("127.0.0.1:%d", 1+rng.IntN(6)), Weight: 1 + rng.IntN(3)})
		}
		if rng.IntN(2) == 0 {
			cfg.Passive = PassiveConfig{Failures: 1 + rng.IntN(5), EjectFor: time.Duration(1+rng.IntN(3)) * time.Second}
		}
		changed = slices.DeleteFunc(changed, func(c PoolConfig) bool { return c.Name == name })
		removed = slices.DeleteFunc(removed, func(r string) bool { return r == name })
		cfgs[name] = cfg
		changed = append(changed, cfg)
	}
	return changed, removed
}

func sortedConfigs(cfgs map[string]PoolConfig) []PoolConfig {
	var out []PoolConfig
	for _, c := range cfgs {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b PoolConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func comparePools(t *testing.T, where string, got, want map[string]*Pool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d pools, want %d", where, len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil || g.Policy() != w.Policy() || !reflect.DeepEqual(backendAddrs(g), backendAddrs(w)) {
			t.Fatalf("%s: pool %s is %v, want %v", where, name, g, w)
		}
	}
}

func backendAddrs(p *Pool) []string {
	var out []string
	for _, b := range p.Backends() {
		out = append(out, b.Addr())
	}
	return out
}

func compareAddrs(t *testing.T, where string, got, want *Registry) {
	t.Helper()
	if len(got.addrs) != len(want.addrs) {
		t.Fatalf("%s: %d addresses, want %d", where, len(got.addrs), len(want.addrs))
	}
	for addr, w := range want.addrs {
		g := got.addrs[addr]
		if g == nil || !reflect.DeepEqual(g.settings, w.settings) {
			t.Fatalf("%s: address %s settings %+v, want %+v", where, addr, g, w.settings)
		}
	}
}
