package lb

import (
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/lb/health"
)

// RegistryOptions configures a Registry. The zero value is ready for
// production use.
type RegistryOptions struct {
	// Client sends active health checks; nil means health.NewClient().
	Client *http.Client
	// Now is the clock of passive ejection; nil means time.Now. Tests pass a
	// fake clock to expire ejections without sleeping.
	Now func() time.Time
	// Logger receives health transitions and configuration problems; nil
	// discards them.
	Logger *slog.Logger
}

// Registry owns every Backend, keyed by address, and the active checker of
// each. It is what makes health and in-flight counts outlive a pool: every
// Update reuses the Backend of an address it already knows.
type Registry struct {
	client  *http.Client
	elapsed func() time.Duration
	log     *slog.Logger

	mu     sync.Mutex // serialises Update and Close; the hot path never takes it
	closed bool
	addrs  map[string]*entry
	pools  map[string]*Pool // the last Update's, whose selection state the next one continues
	known  known            // the configuration in force, for Patch
}

// entry is the state the Registry keeps for one address.
type entry struct {
	backend  *Backend
	checker  *health.Checker // nil when no pool configures an active check
	settings addrSettings    // as last applied
}

// NewRegistry returns an empty Registry. Call Close to stop its checkers.
func NewRegistry(opts RegistryOptions) *Registry {
	r := &Registry{client: opts.Client, log: opts.Logger, addrs: map[string]*entry{}}
	if r.client == nil {
		r.client = health.NewClient()
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	epoch := now()
	r.elapsed = func() time.Duration { return now().Sub(epoch) } // monotonic with time.Now
	return r
}

// Update builds the pools of a new configuration, keyed by name, and makes
// the Registry's addresses match it: the Backend of an address that already
// exists is reused (health and in-flight counts survive), checkers start for
// new addresses and restart for changed check configs, and addresses no
// longer referenced lose their checker and state (a Backend still held by
// an old pool keeps working, it is just no longer tracked).
//
// Update never fails: invalid targets are skipped and invalid settings fall
// back to defaults, each logged; see PoolConfig.Validate. Of pools sharing a
// name the first wins. When pools disagree about an address's health
// settings (it is one Backend) the first pool in cfgs order that sets them
// explicitly wins. Safe to call concurrently with Pick, Begin and End on
// pools from earlier Updates.
func (r *Registry) Update(cfgs []PoolConfig) map[string]*Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.plan(cfgs)
	for addr, s := range p.addrs {
		r.apply(addr, s)
	}
	r.forgetExcept(p.addrs)
	r.remember(p, cfgs)
	pools := r.build(p.pools)
	r.pools = maps.Clone(pools) // the caller owns the map it gets
	return pools
}

// Close stops all active checkers and waits for them to exit. Pools keep
// working; a later Update starts no checkers.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, e := range r.addrs {
		e.stopChecker()
	}
}

// apply creates or updates the Backend of addr and its checker.
func (r *Registry) apply(addr string, s *addrSettings) {
	e := r.addrs[addr]
	if e == nil {
		e = &entry{backend: newBackend(addr, r.elapsed, r.log)}
		r.addrs[addr] = e
	}
	e.settings = *s
	failures, ejectFor := s.passive.limits()
	e.backend.passive.SetLimits(failures, ejectFor)
	e.backend.passive.SetFailingResponses(s.passive.FailingResponses)
	r.syncChecker(e, s.active)
}

// syncChecker keeps a running checker whose config is unchanged, restarts
// one whose config changed (from the current verdict), and stops one no
// longer wanted, which readmits the backend: with no check there is no
// evidence against it.
func (r *Registry) syncChecker(e *entry, active *ActiveConfig) {
	var want ActiveConfig
	if active != nil {
		want = active.WithDefaults()
		if e.checker != nil && e.checker.Config() == want {
			return
		}
	}
	e.stopChecker()
	if active == nil {
		e.backend.activeDown.Store(false)
		return
	}
	if r.closed {
		return
	}
	b := e.backend
	e.checker = health.Start(b.addr, want, r.client, !b.activeDown.Load(), b.setActive)
}

func (r *Registry) forgetExcept(keep map[string]*addrSettings) {
	for addr, e := range r.addrs {
		if keep[addr] == nil {
			e.stopChecker()
			delete(r.addrs, addr)
		}
	}
}

func (r *Registry) build(plans []poolPlan) map[string]*Pool {
	pools := make(map[string]*Pool, len(plans))
	for _, pp := range plans {
		backends := make([]*Backend, len(pp.addrs))
		for i, addr := range pp.addrs {
			backends[i] = r.addrs[addr].backend
		}
		pools[pp.name] = &Pool{name: pp.name, policy: pp.policy, backends: backends,
			sel: newSelector(pp.policy, backends, pp.weights, r.pools[pp.name])}
	}
	return pools
}

func (e *entry) stopChecker() {
	if e.checker != nil {
		e.checker.Stop()
		e.checker = nil
	}
}
