package lb

import "slices"

// Pool is the backends of one upstream and the policy choosing among them.
// It is immutable after Registry.Update returns (only its selector's private
// counters move), so a request can keep the Pool it started with for all
// its retries while newer pools are published.
type Pool struct {
	name     string
	policy   Policy
	backends []*Backend
	sel      selector
}

// Name is the pool's name from its PoolConfig.
func (p *Pool) Name() string { return p.name }

// Policy is the selection policy in force; never empty.
func (p *Pool) Policy() Policy { return p.policy }

// Len is the number of distinct backends.
func (p *Pool) Len() int { return len(p.backends) }

// Backends returns a copy of the pool's backends in configuration order.
func (p *Pool) Backends() []*Backend { return slices.Clone(p.backends) }

// Pick chooses a backend not in tried (which may be nil) that is available,
// by the pool's policy. It allocates nothing.
//
// When every untried backend is unavailable it fails open and picks among
// them anyway, ignoring health (Envoy's panic mode): a pool whose members
// are all ejected or failing checks would otherwise black-hole all traffic,
// and a wrong verdict (a broken health endpoint, a checker partitioned from
// healthy pods) is more likely than every pod being down at once. Pick
// returns nil only when no untried backend exists.
func (p *Pool) Pick(tried *Tried) *Backend {
	if len(p.backends) == 0 {
		return nil
	}
	var f filter
	if tried != nil {
		f.tried = *tried // copied so tried does not escape through the interface call
	}
	if b := p.sel.pick(p.backends, f); b != nil {
		return b
	}
	f.ignoreHealth = true
	return p.sel.pick(p.backends, f)
}

// filter says which backends a pick may return. It is passed by value:
// handing a pointer to an interface method would make it escape, and the
// caller's Tried with it, costing an allocation per request.
type filter struct {
	tried        Tried
	ignoreHealth bool
}

func (f *filter) allows(b *Backend) bool {
	return (f.ignoreHealth || b.Available()) && (f.tried.n == 0 || !f.tried.Has(b))
}
