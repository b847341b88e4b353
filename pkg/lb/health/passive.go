package health

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Passive defaults: eject after 5 consecutive failures for 10s.
const (
	DefaultFailures = 5
	DefaultEjectFor = 10 * time.Second
)

// FailingResponses says which responses an address sends count as failed
// requests. Exchange failures (refused or reset connections, timeouts,
// broken bodies) always count; a response the proxy makes up itself (503
// for a pool with no endpoints, 502 after a failed connect) is never held
// against an address it did not come from.
type FailingResponses string

const (
	// FailingResponsesNone counts no response as a failure: only exchange
	// failures do. This is nginx's default (proxy_next_upstream error
	// timeout), and what the empty value means.
	FailingResponsesNone FailingResponses = "None"
	// FailingResponsesGateway counts 502, 503 and 504: the backend is itself
	// a proxy or overloaded. Envoy's consecutive_gateway_failure.
	FailingResponsesGateway FailingResponses = "GatewayErrors"
	// FailingResponsesServer counts every 5xx. Envoy's consecutive_5xx,
	// its default outlier detection.
	FailingResponsesServer FailingResponses = "ServerErrors"
)

// Valid reports whether f is one of the constants or empty.
func (f FailingResponses) Valid() bool {
	switch f {
	case "", FailingResponsesNone, FailingResponsesGateway, FailingResponsesServer:
		return true
	}
	return false
}

// Fails reports whether a response with status counts as a failure under f.
func (f FailingResponses) Fails(status int) bool {
	switch f {
	case FailingResponsesServer:
		return status >= 500 && status <= 599
	case FailingResponsesGateway:
		return status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
			status == http.StatusGatewayTimeout
	}
	return false
}

// failingCodes keeps a FailingResponses in an atomic: the hot path reads it
// on every response.
var failingCodes = []FailingResponses{FailingResponsesNone, FailingResponsesGateway, FailingResponsesServer}

// Passive ejects an address after a run of consecutive failed requests and
// lets it back in after a cool-down. It is lock-free because every request
// ends by recording into it.
//
// The failure run is not reset by an ejection, only by a success: when the
// cool-down ends the address gets traffic again, and one more failure (the
// run is still at or past the limit) ejects it again at once, while a
// success clears the run and it stays in.
type Passive struct {
	now      func() time.Duration // monotonic time since an arbitrary origin
	limit    atomic.Int64         // failures that eject; 0 disables ejection
	ejectFor atomic.Int64         // nanoseconds
	failures atomic.Int64         // current run of consecutive failures
	until    atomic.Int64         // ejected while now < until; 0 means not ejected
	failing  atomic.Uint32        // index into failingCodes
}

// NewPassive returns passive state with the default limits. now must be
// monotonic; tests pass a fake clock.
func NewPassive(now func() time.Duration) *Passive {
	p := &Passive{}
	p.Init(now)
	return p
}

// Init prepares a Passive embedded by value (saving the hot path a pointer
// hop) the way NewPassive prepares a new one. Call it once, before use.
func (p *Passive) Init(now func() time.Duration) {
	p.now = now
	p.SetLimits(DefaultFailures, DefaultEjectFor)
}

// SetLimits changes the limits without touching the current state, so a
// configuration change does not readmit an ejected address. failures <= 0
// disables ejection (and readmits the address); ejectFor <= 0 means the
// default.
func (p *Passive) SetLimits(failures int, ejectFor time.Duration) {
	if ejectFor <= 0 {
		ejectFor = DefaultEjectFor
	}
	p.ejectFor.Store(int64(ejectFor))
	if failures <= 0 {
		p.limit.Store(0)
		p.until.Store(0)
		return
	}
	p.limit.Store(int64(failures))
}

// SetFailingResponses chooses which response statuses RecordResponse
// counts as failures; an invalid f means FailingResponsesNone. Like
// SetLimits it leaves the current state alone.
func (p *Passive) SetFailingResponses(f FailingResponses) {
	for i, c := range failingCodes {
		if c == f {
			p.failing.Store(uint32(i))
			return
		}
	}
	p.failing.Store(0)
}

// FailingResponses is the setting in force.
func (p *Passive) FailingResponses() FailingResponses { return failingCodes[p.failing.Load()] }

// RecordResponse adds a request the address answered with status: a
// failure if the FailingResponses setting says so, else a success.
func (p *Passive) RecordResponse(status int) (ejected bool) {
	return p.Record(failingCodes[p.failing.Load()].Fails(status))
}

// Record adds the outcome of one request. It returns true when this
// failure ejected an address that was not ejected, so the caller can log
// the transition once; further failures while ejected extend the cool-down.
func (p *Passive) Record(failed bool) (ejected bool) {
	if !failed {
		if p.failures.Load() != 0 { // skip the store: it would bounce the cache line on every request
			p.failures.Store(0)
		}
		return false
	}
	n := p.failures.Add(1)
	limit := p.limit.Load()
	if limit == 0 || n < limit {
		return false
	}
	now := int64(p.now())
	prev := p.until.Swap(max(now+p.ejectFor.Load(), 1))
	return prev == 0 || now >= prev
}

// Ejected reports whether the address is in its cool-down. It reads the
// clock only while an ejection is pending, keeping the common case to one
// atomic load.
func (p *Passive) Ejected() bool {
	until := p.until.Load()
	return until != 0 && p.stillEjected(until) // split so the common case inlines
}

func (p *Passive) stillEjected(until int64) bool {
	if int64(p.now()) < until {
		return true
	}
	p.until.CompareAndSwap(until, 0)
	return false
}

// Failures is the current run of consecutive failures.
func (p *Passive) Failures() int64 { return p.failures.Load() }
