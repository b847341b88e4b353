package lb

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// generation is one published configuration as the workers see it.
type generation struct {
	pool    *Pool
	members map[*Backend]bool
}

// TestConcurrentUpdateAndPick swaps configurations thousands of times while
// workers pick, begin and end requests the way the proxy does, with retries
// and failures (so passive ejection and fail-open happen too), and one
// address with an active check that is switched on and off.
func TestConcurrentUpdateAndPick(t *testing.T) {
	// Every address is a loopback server this test opened: odd generations
	// health-check the whole pool, so the probes must land somewhere we own.
	var universe []string
	for range 12 {
		universe = append(universe, newHealthServer(t).addr())
	}
	srv := newHealthServer(t)
	universe = append(universe, srv.addr())
	r := newTestRegistry(t, nil)
	r.log = slog.New(slog.DiscardHandler) // thousands of ejections would drown the test log

	var current atomic.Pointer[generation]
	var gens []*generation // every generation ever published, for the final check
	publish := func(i int) {
		cfg := randomConfig(i, universe, srv.addr())
		p := r.Update([]PoolConfig{cfg})[cfg.Name]
		g := &generation{pool: p, members: map[*Backend]bool{}}
		for _, b := range p.Backends() {
			g.members[b] = true
		}
		gens = append(gens, g)
		current.Store(g)
	}
	publish(0)

	var stop atomic.Bool
	var picks, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				picks.Add(1)
				if msg := request(current.Load(), rng); msg != "" && failures.Add(1) <= 5 {
					t.Error(msg)
				}
			}
		}()
	}
	for i := 1; i <= 2000; i++ {
		publish(i)
	}
	stop.Store(true)
	wg.Wait()

	t.Logf("%d updates, %d requests, %d health probes", len(gens), picks.Load(), srv.probes.Load())
	for _, g := range gens {
		for b := range g.members {
			if n := b.Inflight(); n != 0 {
				t.Fatalf("%s has %d requests in flight after every request ended", b, n)
			}
		}
	}
}

// randomConfig is pool "p" over a non-empty random subset of universe with
// a random policy, always including checked; odd generations health-check
// every member.
func randomConfig(i int, universe []string, checked string) PoolConfig {
	rng := rand.New(rand.NewPCG(uint64(i), 2))
	cfg := PoolConfig{Name: "p", Policy: policies[i%len(policies)],
		Passive: PassiveConfig{Failures: 2, EjectFor: time.Millisecond}}
	for _, a := range universe {
		if rng.IntN(2) == 0 || a == checked {
			cfg.Targets = append(cfg.Targets, Target{Addr: a, Weight: 1 + rng.IntN(5)})
		}
	}
	if i%2 == 1 {
		cfg.Active = &ActiveConfig{Path: "/healthz", Interval: time.Millisecond, Timeout: time.Second}
	}
	return cfg
}

// request does what the proxy does for one request with up to two retries,
// and returns what went wrong, if anything.
func request(g *generation, rng *rand.Rand) string {
	var tried Tried
	for attempt := range 3 {
		b := g.pool.Pick(&tried)
		switch {
		case b == nil && attempt < g.pool.Len():
			return fmt.Sprintf("Pick returned nil on attempt %d of a pool of %d", attempt, g.pool.Len())
		case b == nil:
			return ""
		case !g.members[b]:
			return fmt.Sprintf("Pick returned %s, not a member of the pool picked from", b)
		case tried.Has(b):
			return fmt.Sprintf("Pick returned %s, which this request already tried", b)
		}
		tried.Add(b)
		b.Begin()
		failed := rng.IntN(3) == 0
		b.End(failed)
		if !failed {
			return ""
		}
	}
	return ""
}
