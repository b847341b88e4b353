package lb

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/lb/health"
)

// Backend is one upstream address. The Registry keeps exactly one per
// address, shared by every pool that lists it, so its counters and health
// describe the address, not a pool, and survive configuration swaps.
type Backend struct {
	addr       string
	inflight   atomic.Int64
	activeDown atomic.Bool // zero value: healthy, so a new backend serves at once
	passive    health.Passive
	log        *slog.Logger
}

func newBackend(addr string, now func() time.Duration, log *slog.Logger) *Backend {
	b := &Backend{addr: addr, log: log}
	b.passive.Init(now)
	return b
}

// Addr is the backend's "ip:port".
func (b *Backend) Addr() string { return b.addr }

// Inflight is the number of requests begun and not yet ended.
func (b *Backend) Inflight() int64 { return b.inflight.Load() }

// Available reports whether b may get traffic: not passively ejected and
// not marked unhealthy by an active check.
func (b *Backend) Available() bool {
	return !b.activeDown.Load() && !b.passive.Ejected()
}

// Begin records that a request starts on b. Every Begin must be matched by
// one End.
func (b *Backend) Begin() { b.inflight.Add(1) }

// End records that a request on b finished. failed feeds passive health:
// a run of consecutive failures ejects b for a while. Use it when b sent
// no complete response (connect failure, reset, timeout: failed) or when
// the request says nothing about b.
func (b *Backend) End(failed bool) {
	b.inflight.Add(-1)
	b.logEjection(b.passive.Record(failed))
}

// EndResponse records that a request on b finished with a response b sent
// with status. Whether that status is a failure is the pool's
// PassiveConfig.FailingResponses.
func (b *Backend) EndResponse(status int) {
	b.inflight.Add(-1)
	b.logEjection(b.passive.RecordResponse(status))
}

func (b *Backend) logEjection(ejected bool) {
	if ejected {
		// Warn, not error: the backend failed, Baton did what it should.
		b.log.Warn("lb: backend ejected after consecutive failures",
			slog.String("backend", b.addr), slog.Int64("failures", b.passive.Failures()))
	}
}

// String is the address, for logs.
func (b *Backend) String() string { return b.addr }

// setActive is the active checker's report.
func (b *Backend) setActive(healthy bool, err error) {
	b.activeDown.Store(!healthy)
	if healthy {
		b.log.Info("lb: backend passes its health check again", slog.String("backend", b.addr))
		return
	}
	b.log.Warn("lb: backend marked unhealthy by its health check", slog.String("backend", b.addr), slog.Any("err", err))
}
