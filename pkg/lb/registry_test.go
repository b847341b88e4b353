package lb

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/logtest"
)

func TestPassiveEjectAndRestore(t *testing.T) {
	clock := newFakeClock()
	as := addrs(2)
	p := onePool(t, newTestRegistry(t, clock), PoolConfig{Name: "p", Targets: targets(as...),
		Passive: PassiveConfig{Failures: 3, EjectFor: 30 * time.Second}})
	bad := p.Backends()[0]
	fail := func() { bad.Begin(); bad.End(true) }

	fail()
	fail()
	if !bad.Available() {
		t.Fatal("ejected after 2 of 3 failures")
	}
	fail()
	if bad.Available() {
		t.Fatal("not ejected after 3 consecutive failures")
	}
	if got := count(p, 20); got[as[0]] != 0 {
		t.Fatalf("ejected backend still picked: %v", got)
	}
	clock.Advance(29 * time.Second)
	if bad.Available() {
		t.Fatal("restored before EjectFor passed")
	}
	clock.Advance(time.Second)
	if !bad.Available() {
		t.Fatal("not restored after EjectFor")
	}
	if got := count(p, 20); got[as[0]] != 10 {
		t.Fatalf("restored backend not back in rotation: %v", got)
	}
	fail()
	if bad.Available() {
		t.Fatal("one failure after restore should re-eject")
	}
}

func TestPassiveDefaultsAndDisable(t *testing.T) {
	tests := []struct {
		name      string
		passive   PassiveConfig
		failures  int
		wantAvail bool
	}{
		{"default ejects at 5", PassiveConfig{}, 5, false},
		{"default tolerates 4", PassiveConfig{}, 4, true},
		{"negative disables", PassiveConfig{Failures: -1}, 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			b := onePool(t, newTestRegistry(t, clock), PoolConfig{Name: "p", Targets: targets(addrs(1)...), Passive: tt.passive}).Backends()[0]
			for range tt.failures {
				b.Begin()
				b.End(true)
			}
			if b.Available() != tt.wantAvail {
				t.Fatalf("after %d failures Available() = %v, want %v", tt.failures, b.Available(), tt.wantAvail)
			}
			clock.Advance(DefaultPassive.EjectFor)
			if !b.Available() {
				t.Fatal("not restored after the default eject duration")
			}
		})
	}
}

func TestPassiveCountsResponses(t *testing.T) {
	tests := []struct {
		failing FailingResponses
		status  int
		ejected bool
	}{
		{FailingResponsesServer, 500, true},
		{FailingResponsesServer, 404, false},
		{FailingResponsesGateway, 500, false},
		{FailingResponsesGateway, 504, true},
		{FailingResponsesNone, 503, false},
		{"", 503, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.failing, tt.status), func(t *testing.T) {
			p := onePool(t, newTestRegistry(t, newFakeClock()), PoolConfig{Name: "p", Targets: targets(addrs(1)...),
				Passive: PassiveConfig{Failures: 3, FailingResponses: tt.failing}})
			b := p.Backends()[0]
			for range 3 {
				b.Begin()
				b.EndResponse(tt.status)
			}
			if b.Available() == tt.ejected || b.Inflight() != 0 {
				t.Fatalf("after 3 answers %d: available %v (want %v), in flight %d", tt.status, b.Available(), !tt.ejected, b.Inflight())
			}
		})
	}
}

func TestStateSurvivesUpdate(t *testing.T) {
	clock := newFakeClock()
	r := newTestRegistry(t, clock)
	as := addrs(3)
	old := onePool(t, r, PoolConfig{Name: "p", Targets: targets(as[0], as[1])})
	a, b := old.Backends()[0], old.Backends()[1]
	a.Begin() // a request in flight across the swap
	eject(t, b)

	pools := r.Update([]PoolConfig{
		{Name: "p", Policy: LeastRequest, Targets: targets(as[1], as[0], as[2])},
		{Name: "q", Targets: targets(as[0])},
	})
	cur, q := pools["p"].Backends(), pools["q"].Backends()
	if cur[1] != a || cur[0] != b || q[0] != a {
		t.Fatal("Update did not reuse the Backends of existing addresses")
	}
	if a.Inflight() != 1 || b.Available() {
		t.Fatalf("state lost: a in flight %d (want 1), b available %v (want ejected)", a.Inflight(), b.Available())
	}
	a.End(false) // ends through the old pool's pointer: same object
	if cur[1].Inflight() != 0 {
		t.Fatal("End on the old pool's backend did not reach the new pool's")
	}

	// Removing an address forgets it; adding it back starts fresh.
	r.Update([]PoolConfig{{Name: "p", Targets: targets(as[0])}})
	again := onePool(t, r, PoolConfig{Name: "p", Targets: targets(as[0], as[1])}).Backends()[1]
	if again == b || !again.Available() {
		t.Fatal("a removed and re-added address kept its old state")
	}
	if old.Pick(nil) == nil {
		t.Fatal("an old pool stopped working after its addresses were dropped")
	}
}

func TestUpdateNormalisesConfig(t *testing.T) {
	logs := logtest.NewRecorder()
	r := NewRegistry(RegistryOptions{Logger: logs.Logger()})
	t.Cleanup(r.Close)
	as := addrs(2)
	pools := r.Update([]PoolConfig{
		{Name: "w", Policy: Weighted, Targets: []Target{{Addr: as[0], Weight: 2}, {Addr: "nonsense"}, {Addr: as[0], Weight: 3}, {Addr: as[1]}}},
		{Name: "w", Targets: targets(as[1])},
		{Name: "x", Policy: "Random", Targets: targets(as[1])},
	})
	w := pools["w"]
	if w.Len() != 2 || w.Policy() != Weighted || w.Name() != "w" {
		t.Fatalf("pool w: len %d policy %s; want the bad target dropped and the duplicate merged", w.Len(), w.Policy())
	}
	if got := count(w, 12); got[as[0]] != 10 || got[as[1]] != 2 {
		t.Fatalf("merged duplicate should weigh 2+3=5 against 1: %v", got)
	}
	if pools["x"].Policy() != RoundRobin {
		t.Fatalf("unknown policy: got %s, want the RoundRobin fallback", pools["x"].Policy())
	}
	warned := map[string]bool{}
	for _, rec := range logs.Records() {
		if rec.Level == slog.LevelWarn {
			warned[rec.Attrs["pool"].String()+" "+rec.Message] = true
		}
	}
	if len(warned) < 3 || !warned["w lb: pool configured twice; the first one is used"] {
		t.Fatalf("bad target, duplicate pool and unknown policy: want 3 warnings naming the pool, got %v", warned)
	}
}

func TestPoolConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     PoolConfig
		wantErr []string
	}{
		{"valid", PoolConfig{Name: "p", Policy: LeastRequest, Targets: targets("10.0.0.1:80", "[fd00::1]:8080"),
			Active: &ActiveConfig{Path: "/healthz"}}, nil},
		{"empty policy is round robin", PoolConfig{Name: "p"}, nil},
		{"no name", PoolConfig{}, []string{"no name"}},
		{"bad policy", PoolConfig{Name: "p", Policy: "Random"}, []string{`unknown policy "Random"`}},
		{"bad addresses", PoolConfig{Name: "p", Targets: targets("10.0.0.1", ":80", "host:")},
			[]string{`"10.0.0.1" is not host:port`, `":80" is not host:port`, `"host:" is not host:port`}},
		{"weight too large", PoolConfig{Name: "p", Targets: []Target{{Addr: "10.0.0.1:80", Weight: MaxWeight + 1}}}, []string{"above the maximum"}},
		{"bad failing responses", PoolConfig{Name: "p", Passive: PassiveConfig{FailingResponses: "All"}}, []string{`unknown passive failing responses "All"`}},
		{"negative eject", PoolConfig{Name: "p", Passive: PassiveConfig{EjectFor: -time.Second}}, []string{"must not be negative"}},
		{"bad active", PoolConfig{Name: "p", Active: &ActiveConfig{Path: "healthz"}}, []string{"must start with /"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Validate() = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// healthServer is an upstream whose health endpoint answers with a status
// the test flips.
type healthServer struct {
	*httptest.Server
	status atomic.Int32
	probes atomic.Int64
}

func newHealthServer(t *testing.T) *healthServer {
	h := &healthServer{}
	h.status.Store(http.StatusOK)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			h.probes.Add(1)
			w.WriteHeader(int(h.status.Load()))
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *healthServer) addr() string { return h.Listener.Addr().String() }

func TestActiveEjectAndRestore(t *testing.T) {
	sick, fine := newHealthServer(t), newHealthServer(t)
	active := &ActiveConfig{Path: "/healthz", Interval: 5 * time.Millisecond, Timeout: time.Second, Healthy: 2, Unhealthy: 2}
	p := onePool(t, newTestRegistry(t, nil), PoolConfig{Name: "p", Targets: targets(sick.addr(), fine.addr()), Active: active})
	b := p.Backends()[0]

	waitFor(t, "probes of both", func() bool { return sick.probes.Load() >= 2 && fine.probes.Load() >= 2 })
	if !b.Available() {
		t.Fatal("a backend passing its checks is unavailable")
	}
	sick.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "active ejection", func() bool { return !b.Available() })
	if got := count(p, 20); got[sick.addr()] != 0 {
		t.Fatalf("unhealthy backend still picked: %v", got)
	}
	sick.status.Store(http.StatusNoContent)
	waitFor(t, "active restore", b.Available)
}

func TestActiveNewBackendServesAtOnce(t *testing.T) {
	down := newHealthServer(t)
	down.status.Store(http.StatusInternalServerError)
	r := newTestRegistry(t, nil)
	cfg := PoolConfig{Name: "p", Targets: targets(down.addr()),
		Active: &ActiveConfig{Path: "/healthz", Interval: 5 * time.Millisecond, Unhealthy: 1000}}
	b := onePool(t, r, cfg).Backends()[0]
	if !b.Available() {
		t.Fatal("a new backend is unavailable before any check")
	}
	// A checker sends probe n+1 only after handling probe n's result, so
	// five probes seen means at least four failures were counted.
	waitFor(t, "five probes", func() bool { return down.probes.Load() >= 5 })
	if !b.Available() {
		t.Fatal("failures below the Unhealthy threshold made a new backend unavailable")
	}
}

func TestActiveStateSurvivesUpdate(t *testing.T) {
	srv := newHealthServer(t)
	srv.status.Store(http.StatusServiceUnavailable)
	r := newTestRegistry(t, nil)
	active := ActiveConfig{Path: "/healthz", Interval: time.Hour, Unhealthy: 1}
	cfg := PoolConfig{Name: "p", Targets: targets(srv.addr()), Active: &active}
	b := onePool(t, r, cfg).Backends()[0]
	waitFor(t, "unhealthy verdict", func() bool { return !b.Available() })
	checker := r.addrs[srv.addr()].checker

	// Same check config: the checker keeps running, the verdict stands.
	cfg.Targets = append(cfg.Targets, Target{Addr: newHealthServer(t).addr()})
	cfg.Active = &ActiveConfig{Path: "/healthz", Interval: time.Hour, Unhealthy: 1}
	if got := onePool(t, r, cfg).Backends()[0]; got != b || b.Available() || r.addrs[srv.addr()].checker != checker {
		t.Fatal("an Update with the same check config reset the backend or its checker")
	}
	// Changed config: a new checker, starting from the current verdict.
	cfg.Active = &ActiveConfig{Path: "/healthz", Interval: time.Hour, Unhealthy: 1, Healthy: 1, Timeout: 2 * time.Second}
	onePool(t, r, cfg)
	if r.addrs[srv.addr()].checker == checker || b.Available() {
		t.Fatal("a changed check config did not restart the checker from the unhealthy verdict")
	}
	srv.status.Store(http.StatusOK)
	cfg.Active.Path = "/healthz?v=2" // restart again: the first probe now succeeds
	onePool(t, r, cfg)
	waitFor(t, "recovery under the new checker", b.Available)

	// No check any more: the backend is readmitted and its checker stopped.
	srv.status.Store(http.StatusServiceUnavailable)
	cfg.Active.Path = "/healthz?v=3"
	onePool(t, r, cfg)
	waitFor(t, "unhealthy again", func() bool { return !b.Available() })
	cfg.Active = nil
	onePool(t, r, cfg)
	if !b.Available() || r.addrs[srv.addr()].checker != nil {
		t.Fatal("removing the active check left the backend ejected or its checker running")
	}
}

func TestCloseStopsCheckers(t *testing.T) {
	srv := newHealthServer(t)
	r := NewRegistry(RegistryOptions{Logger: logtest.Logger(t), Client: loopbackOnlyClient(t)})
	onePool(t, r, PoolConfig{Name: "p", Targets: targets(srv.addr()),
		Active: &ActiveConfig{Path: "/healthz", Interval: time.Millisecond}})
	waitFor(t, "probes", func() bool { return srv.probes.Load() >= 2 })
	r.Close()
	if e := r.addrs[srv.addr()]; e.checker != nil {
		t.Fatal("Close left a checker")
	}
	onePool(t, r, PoolConfig{Name: "p", Targets: targets(srv.addr()),
		Active: &ActiveConfig{Path: "/healthz", Interval: 2 * time.Millisecond}})
	if r.addrs[srv.addr()].checker != nil {
		t.Fatal("Update after Close started a checker")
	}
}
