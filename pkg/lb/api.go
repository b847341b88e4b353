package lb

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/baton-dev/baton/pkg/lb/health"
)

// Policy names a selection policy.
type Policy string

const (
	RoundRobin   Policy = "RoundRobin"
	Weighted     Policy = "WeightedRoundRobin"
	LeastRequest Policy = "LeastRequest"
)

// Valid reports whether p names a policy; the empty Policy means RoundRobin.
func (p Policy) Valid() bool {
	switch p {
	case "", RoundRobin, Weighted, LeastRequest:
		return true
	}
	return false
}

// MaxWeight bounds Target.Weight so the weighted selector's running sums
// cannot overflow, whatever the pool size.
const MaxWeight = 1_000_000

// Target is one configured endpoint of a pool.
type Target struct {
	Addr   string // "ip:port"
	Weight int    // Weighted only; <= 0 means 1, above MaxWeight means MaxWeight
}

// PassiveConfig ejects a backend after Failures consecutive failed requests
// for EjectFor. Zero values mean DefaultPassive; Failures < 0 disables
// passive ejection. FailingResponses says which response statuses count as
// failed requests (see Backend.EndResponse); empty means none do.
type PassiveConfig struct {
	Failures         int
	EjectFor         time.Duration
	FailingResponses FailingResponses
}

// FailingResponses says which response statuses passive health counts as
// failures.
type FailingResponses = health.FailingResponses

const (
	FailingResponsesNone    = health.FailingResponsesNone
	FailingResponsesGateway = health.FailingResponsesGateway
	FailingResponsesServer  = health.FailingResponsesServer
)

// DefaultPassive is what zero PassiveConfig fields mean.
var DefaultPassive = PassiveConfig{Failures: health.DefaultFailures, EjectFor: health.DefaultEjectFor}

// ActiveConfig is an HTTP GET health check to Path on every backend.
// A response with status 200-399 is healthy. Zero fields take the
// health.Default* values (Kubernetes probe defaults).
type ActiveConfig = health.Config

// PoolConfig describes one pool of a configuration.
type PoolConfig struct {
	Name    string
	Targets []Target
	Policy  Policy
	Passive PassiveConfig
	Active  *ActiveConfig
}

// Validate reports everything wrong with c. Registry.Update never fails: it
// skips bad targets and falls back to defaults, so callers that can surface
// an error (a status condition) should call Validate first.
func (c PoolConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("pool has no name"))
	}
	if !c.Policy.Valid() {
		errs = append(errs, fmt.Errorf("pool %q: unknown policy %q (want %s, %s or %s)",
			c.Name, c.Policy, RoundRobin, Weighted, LeastRequest))
	}
	for _, t := range c.Targets {
		if err := t.validate(); err != nil {
			errs = append(errs, fmt.Errorf("pool %q: %w", c.Name, err))
		}
	}
	if !c.Passive.FailingResponses.Valid() {
		errs = append(errs, fmt.Errorf("pool %q: unknown passive failing responses %q (want %s, %s or %s)",
			c.Name, c.Passive.FailingResponses, FailingResponsesServer, FailingResponsesGateway, FailingResponsesNone))
	}
	if c.Passive.EjectFor < 0 {
		errs = append(errs, fmt.Errorf("pool %q: passive eject duration %v must not be negative", c.Name, c.Passive.EjectFor))
	}
	if c.Active != nil {
		if err := c.Active.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("pool %q: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (t Target) validate() error {
	if err := t.validAddr(); err != nil {
		return err
	}
	if t.Weight > MaxWeight {
		return fmt.Errorf("target %q: weight %d is above the maximum %d", t.Addr, t.Weight, MaxWeight)
	}
	return nil
}

func (t Target) validAddr() error {
	host, port, err := net.SplitHostPort(t.Addr)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("target %q is not host:port", t.Addr)
	}
	return nil
}

func (t Target) weight() int64 {
	return int64(min(max(t.Weight, 1), MaxWeight))
}

// Tried remembers the backends a request already used so retries go to
// another one. The zero value is empty; it is a value type so that a request
// can keep it on its stack or in its context without allocating. It holds
// up to 8 backends (more retries than any sane policy); further Adds are
// ignored, so a very long retry chain may revisit a backend.
type Tried struct {
	n        int
	backends [8]*Backend
}

// Add records b. Adding nil or a backend already recorded does nothing.
func (t *Tried) Add(b *Backend) {
	if b == nil || t.n == len(t.backends) || t.Has(b) {
		return
	}
	t.backends[t.n] = b
	t.n++
}

// Has reports whether b was recorded. A nil *Tried has nothing.
func (t *Tried) Has(b *Backend) bool {
	if t == nil {
		return false
	}
	for _, x := range t.backends[:t.n] {
		if x == b {
			return true
		}
	}
	return false
}

// Len is the number of recorded backends.
func (t *Tried) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Reset empties t for reuse.
func (t *Tried) Reset() { *t = Tried{} }
