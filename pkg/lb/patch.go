package lb

import (
	"log/slog"
	"slices"
)

// known is what the Registry remembers of the last configuration, so that
// Patch can redo only the pools that changed and the addresses they list.
type known struct {
	pools map[string]*knownPool
	// users are the pools listing each address, sorted: most addresses
	// have one, and a map per address would cost several times the memory
	// (50,000 endpoints at 10,000 Ingresses).
	users map[string][]string
}

type knownPool struct {
	cfg  PoolConfig // Targets dropped: plan holds them, checked
	plan poolPlan
}

// remember records cfgs as the configuration in force (Update's).
func (r *Registry) remember(p plan, cfgs []PoolConfig) {
	k := known{pools: make(map[string]*knownPool, len(p.pools)), users: make(map[string][]string, len(p.addrs))}
	byName := make(map[string]*PoolConfig, len(cfgs))
	for i := range cfgs {
		if _, dup := byName[cfgs[i].Name]; !dup {
			byName[cfgs[i].Name] = &cfgs[i]
		}
	}
	for _, pp := range p.pools {
		k.add(byName[pp.name], pp)
	}
	r.known = k
}

func (k *known) add(cfg *PoolConfig, pp poolPlan) {
	c := *cfg
	c.Targets = nil
	k.pools[pp.name] = &knownPool{cfg: c, plan: pp}
	for _, addr := range pp.addrs {
		users := k.users[addr]
		if i, found := slices.BinarySearch(users, pp.name); !found {
			k.users[addr] = slices.Insert(users, i, pp.name)
		}
	}
}

func (k *known) remove(name string) {
	kp := k.pools[name]
	if kp == nil {
		return
	}
	for _, addr := range kp.plan.addrs {
		users := k.users[addr]
		i, found := slices.BinarySearch(users, name)
		switch {
		case !found:
		case len(users) == 1:
			delete(k.users, addr)
		default:
			k.users[addr] = slices.Delete(users, i, i+1)
		}
	}
	delete(k.pools, name)
}

// Patch is Update for a configuration that differs from the one in force
// only in the pools of changed (added or modified) and the pools named in
// removed. It costs what changed, not the whole configuration: it returns
// the new Pools of changed only (every other pool stays the very Pool it
// was), and only the addresses the changed pools list (or listed) have
// their health settings merged again. It merges them over the pools in name order, which is Update's
// order when its pools were sorted by name, as a snapshot's upstreams are;
// callers that configure in another order must use Update.
func (r *Registry) Patch(changed []PoolConfig, removed []string) map[string]*Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known.pools == nil {
		r.known = known{pools: map[string]*knownPool{}, users: map[string][]string{}}
	}
	touched := map[string]bool{}
	for _, name := range removed {
		r.touch(touched, name)
		r.known.remove(name)
		delete(r.pools, name)
	}
	fresh := make([]poolPlan, 0, len(changed))
	for i := range changed {
		cfg := &changed[i]
		if err := cfg.Validate(); err != nil {
			r.log.Warn("lb: invalid pool configuration; using defaults, skipping bad targets", slog.String("pool", cfg.Name), slog.Any("err", err))
		}
		r.touch(touched, cfg.Name)
		r.known.remove(cfg.Name)
		pp := planPool(*cfg)
		r.known.add(cfg, pp)
		fresh = append(fresh, pp)
		r.touch(touched, cfg.Name)
	}
	for addr := range touched {
		r.resettle(addr)
	}
	if r.pools == nil {
		r.pools = map[string]*Pool{}
	}
	built := r.build(fresh)
	for name, p := range built {
		r.pools[name] = p
	}
	return built
}

func (r *Registry) touch(touched map[string]bool, pool string) {
	if kp := r.known.pools[pool]; kp != nil {
		for _, addr := range kp.plan.addrs {
			touched[addr] = true
		}
	}
}

// resettle merges addr's settings over the pools listing it, in name
// order, or forgets addr when none does.
func (r *Registry) resettle(addr string) {
	users := r.known.users[addr]
	if len(users) == 0 {
		if e := r.addrs[addr]; e != nil {
			e.stopChecker()
			delete(r.addrs, addr)
		}
		return
	}
	s := &addrSettings{}
	for _, name := range users {
		s.merge(r.known.pools[name].cfg)
	}
	r.apply(addr, s)
}

// PoolsListing appends to dst the names of the pools in force that list
// addr as a target, sorted. It lets a caller ask about one address without
// indexing every pool's backends.
func (r *Registry) PoolsListing(dst []string, addr string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(dst, r.known.users[addr]...)
}
