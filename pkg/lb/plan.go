package lb

import (
	"log/slog"
	"time"
)

// plan is a configuration normalised for Update: pools with valid, distinct
// targets and the health settings each address ends up with.
type plan struct {
	pools []poolPlan
	addrs map[string]*addrSettings
}

type poolPlan struct {
	name    string
	policy  Policy
	addrs   []string
	weights []int64 // parallel to addrs
}

// addrSettings are the health settings of one address, merged over all the
// pools listing it.
type addrSettings struct {
	passive    PassiveConfig
	passiveSet bool
	active     *ActiveConfig
}

func (r *Registry) plan(cfgs []PoolConfig) plan {
	p := plan{addrs: map[string]*addrSettings{}}
	seen := make(map[string]bool, len(cfgs))
	for _, cfg := range cfgs {
		if err := cfg.Validate(); err != nil {
			r.log.Warn("lb: invalid pool configuration; using defaults, skipping bad targets", slog.String("pool", cfg.Name), slog.Any("err", err))
		}
		if seen[cfg.Name] {
			r.log.Warn("lb: pool configured twice; the first one is used", slog.String("pool", cfg.Name))
			continue
		}
		seen[cfg.Name] = true
		pp := planPool(cfg)
		for _, addr := range pp.addrs {
			p.settings(addr).merge(cfg)
		}
		p.pools = append(p.pools, pp)
	}
	return p
}

func (p *plan) settings(addr string) *addrSettings {
	s := p.addrs[addr]
	if s == nil {
		s = &addrSettings{}
		p.addrs[addr] = s
	}
	return s
}

// planPool drops invalid targets and merges repeated addresses into one
// backend whose weight is their sum: a backend is identified by address, so
// two entries for it cannot be two backends.
func planPool(cfg PoolConfig) poolPlan {
	pp := poolPlan{name: cfg.Name, policy: cfg.Policy}
	if !pp.policy.Valid() || pp.policy == "" {
		pp.policy = RoundRobin
	}
	index := make(map[string]int, len(cfg.Targets))
	for _, t := range cfg.Targets {
		if t.validAddr() != nil {
			continue // Validate reported it; a too-large weight is only clamped
		}
		if i, ok := index[t.Addr]; ok {
			pp.weights[i] = min(pp.weights[i]+t.weight(), MaxWeight)
			continue
		}
		index[t.Addr] = len(pp.addrs)
		pp.addrs = append(pp.addrs, t.Addr)
		pp.weights = append(pp.weights, t.weight())
	}
	return pp
}

// merge takes cfg's health settings unless an earlier pool set them.
func (s *addrSettings) merge(cfg PoolConfig) {
	if !s.passiveSet && cfg.Passive != (PassiveConfig{}) {
		s.passive, s.passiveSet = cfg.Passive, true
	}
	if s.active == nil && cfg.Active != nil {
		active := *cfg.Active // the caller may reuse its config
		s.active = &active
	}
}

// limits are the arguments of health.Passive.SetLimits: defaults for zero
// values, and a negative Failures disables ejection.
func (c PassiveConfig) limits() (int, time.Duration) {
	failures, ejectFor := c.Failures, c.EjectFor
	if failures == 0 {
		failures = DefaultPassive.Failures
	}
	if ejectFor <= 0 {
		ejectFor = DefaultPassive.EjectFor
	}
	return failures, ejectFor
}
