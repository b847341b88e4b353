package lb

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/lb/health"
)

// fakeClock is a wall clock the test advances by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestRegistry returns a Registry on clock (nil: real time) that logs to
// the test and is closed when the test ends.
func newTestRegistry(t testing.TB, clock *fakeClock) *Registry {
	opts := RegistryOptions{Logger: logtest.Logger(t), Client: loopbackOnlyClient(t)}
	if clock != nil {
		opts.Now = clock.Now
	}
	r := NewRegistry(opts)
	t.Cleanup(r.Close)
	return r
}

// loopbackOnlyClient is the production check client with a dialer that
// refuses, and fails the test on, any address that is not loopback: tests
// may only probe servers they opened on this machine.
func loopbackOnlyClient(t testing.TB) *http.Client {
	c := health.NewClient()
	tr := c.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("health check dialled %s, which is not a loopback address", addr)
			return nil, fmt.Errorf("test refuses to dial %s", addr)
		}
		return dial(ctx, network, addr)
	}
	return c
}

// addrs returns n distinct documentation addresses (TEST-NET-1). Nothing
// may send traffic to them: a pool with an active check must list only
// loopback servers its test opened (newHealthServer).
func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("192.0.2.%d:80", i+1)
	}
	return out
}

func targets(as ...string) []Target {
	ts := make([]Target, len(as))
	for i, a := range as {
		ts[i] = Target{Addr: a}
	}
	return ts
}

// onePool updates r with cfg alone and returns its pool.
func onePool(t testing.TB, r *Registry, cfg PoolConfig) *Pool {
	t.Helper()
	p := r.Update([]PoolConfig{cfg})[cfg.Name]
	if p == nil {
		t.Fatalf("Update did not return pool %q", cfg.Name)
	}
	return p
}

// count picks n times with no retries and tallies the addresses.
func count(p *Pool, n int) map[string]int {
	got := map[string]int{}
	for range n {
		got[p.Pick(nil).Addr()]++
	}
	return got
}

// eject fails b until it is passively ejected.
func eject(t testing.TB, b *Backend) {
	t.Helper()
	for i := 0; b.Available(); i++ {
		if i > 1000 {
			t.Fatalf("%s never ejected", b.Addr())
		}
		b.Begin()
		b.End(true)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // safety limit only
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
