package lb

import "time"

// Policy names a selection policy.
type Policy string

const (
	RoundRobin   Policy = "RoundRobin"
	Weighted     Policy = "WeightedRoundRobin"
	LeastRequest Policy = "LeastRequest"
)

// Target is one configured endpoint of a pool.
type Target struct {
	Addr   string // "ip:port"
	Weight int    // Weighted only; <= 0 means 1
}

// PassiveConfig ejects a backend after Failures consecutive failed requests
// for EjectFor. Zero values mean DefaultPassive.
type PassiveConfig struct {
	Failures int
	EjectFor time.Duration
}

// ActiveConfig is an HTTP GET health check to Path on every backend.
// A response with status 200-399 is healthy.
type ActiveConfig struct {
	Path      string
	Interval  time.Duration
	Timeout   time.Duration
	Healthy   int // consecutive successes to become healthy
	Unhealthy int // consecutive failures to become unhealthy
	HTTPS     bool
	Host      string // Host header, optional
}

// PoolConfig describes one pool of a configuration.
type PoolConfig struct {
	Name    string
	Targets []Target
	Policy  Policy
	Passive PassiveConfig
	Active  *ActiveConfig
}

// Tried remembers the backends a request already used so retries go to
// another one. The zero value is empty; it is a value type so that a request
// can keep it on its stack or in its context without allocating.
type Tried struct {
	n     int
	addrs [8]*Backend
}
