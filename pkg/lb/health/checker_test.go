package health

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTally(t *testing.T) {
	// results: '+' success, '-' failure; want: verdict after each result.
	tests := []struct {
		name     string
		start    bool
		healthy  int
		unhealth int
		results  string
		want     string // 'H' healthy, 'U' unhealthy
	}{
		{"needs Unhealthy failures in a row", true, 1, 3, "--+---", "HHHHHU"},
		{"needs Healthy successes in a row", false, 2, 1, "+-++", "UUUH"},
		{"flaps only past thresholds", true, 2, 2, "--+-++", "HUUUUH"},
		{"thresholds of one follow every result", true, 1, 1, "-+-+", "UHUH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Healthy: tt.healthy, Unhealthy: tt.unhealth}.WithDefaults()
			tl := &tally{healthy: tt.start}
			prev := tt.start
			for i, r := range tt.results {
				changed := tl.observe(r == '+', cfg)
				if changed != (tl.healthy != prev) {
					t.Fatalf("result %d: changed=%v but verdict went %v -> %v", i, changed, prev, tl.healthy)
				}
				prev = tl.healthy
				if got := map[bool]byte{true: 'H', false: 'U'}[tl.healthy]; got != tt.want[i] {
					t.Fatalf("after %q: verdict %c, want %c", tt.results[:i+1], got, tt.want[i])
				}
			}
		})
	}
}

// flipServer answers its health endpoint with a status the test sets.
type flipServer struct {
	*httptest.Server
	status atomic.Int32
	probes atomic.Int64
}

func newFlipServer(t *testing.T) *flipServer {
	f := &flipServer{}
	f.status.Store(http.StatusOK)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.probes.Add(1)
		w.WriteHeader(int(f.status.Load()))
	}))
	t.Cleanup(f.Close)
	return f
}

// reports records a checker's verdicts.
type reports struct {
	mu       sync.Mutex
	verdicts []bool
}

func (r *reports) report(healthy bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verdicts = append(r.verdicts, healthy)
}

func (r *reports) snapshot() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.verdicts...)
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

func TestCheckerFlipsWithTheServer(t *testing.T) {
	srv := newFlipServer(t)
	var rep reports
	cfg := Config{Interval: 5 * time.Millisecond, Healthy: 2, Unhealthy: 2}
	c := Start(hostPort(srv.Server), cfg, nil, true, rep.report)
	defer c.Stop()

	waitFor(t, "first probes", func() bool { return srv.probes.Load() >= 3 })
	if got := rep.snapshot(); len(got) != 0 {
		t.Fatalf("a healthy server produced verdicts %v", got)
	}
	srv.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "unhealthy verdict", func() bool { return len(rep.snapshot()) == 1 })
	srv.status.Store(http.StatusOK)
	waitFor(t, "healthy verdict", func() bool { return len(rep.snapshot()) == 2 })
	if got := rep.snapshot(); got[0] != false || got[1] != true {
		t.Fatalf("verdicts = %v, want [false true]", got)
	}
}

func TestCheckerStartsFromGivenVerdict(t *testing.T) {
	srv := newFlipServer(t)
	var rep reports
	c := Start(hostPort(srv.Server), Config{Interval: 5 * time.Millisecond, Healthy: 3}, nil, false, rep.report)
	defer c.Stop()
	waitFor(t, "recovery", func() bool { return len(rep.snapshot()) == 1 })
	if n := srv.probes.Load(); n < 3 {
		t.Fatalf("became healthy after %d probes, want at least Healthy=3", n)
	}
}

func TestCheckerStopEndsProbing(t *testing.T) {
	srv := newFlipServer(t)
	c := Start(hostPort(srv.Server), Config{Interval: time.Millisecond}, nil, true, func(bool, error) {})
	waitFor(t, "probes", func() bool { return srv.probes.Load() >= 2 })
	c.Stop()
	c.Stop() // idempotent
	select {
	case <-c.done:
	default:
		t.Fatal("Stop returned before the checker goroutine exited")
	}
	if c.Config().Path != "/" || c.Addr() != hostPort(srv.Server) {
		t.Fatalf("Config() = %+v, Addr() = %q", c.Config(), c.Addr())
	}
}
