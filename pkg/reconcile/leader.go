package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Defaults of LeaderElection, the same as controller-runtime's and
// kube-controller-manager's.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// LeaderElection makes one replica at a time write statuses and Events,
// through a coordination.k8s.io Lease. Unlike controller-runtime's leader
// election, losing the Lease is not fatal: the replica stops writing,
// campaigns again and resumes when it wins. Routing never depends on it.
type LeaderElection struct {
	// Namespace and Name of the Lease.
	Namespace, Name string
	// Identity of this replica in the Lease; hostname_uuid when empty.
	Identity string
	// LeaseDuration is how long the others wait after the last renewal
	// they saw before they take the Lease; RenewDeadline is how long the
	// leader keeps writing after the start of its last successful renewal;
	// RetryPeriod is the pause between attempts. Defaults when zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func (l LeaderElection) withDefaults() (LeaderElection, error) {
	if l.Namespace == "" || l.Name == "" {
		return l, errors.New("reconcile: LeaderElection needs the Lease's Namespace and Name")
	}
	if l.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return l, fmt.Errorf("reconcile: leader election identity: %w", err)
		}
		l.Identity = host + "_" + string(uuid.NewUUID())
	}
	l.LeaseDuration = cmp.Or(l.LeaseDuration, DefaultLeaseDuration)
	l.RenewDeadline = cmp.Or(l.RenewDeadline, DefaultRenewDeadline)
	l.RetryPeriod = cmp.Or(l.RetryPeriod, DefaultRetryPeriod)
	// client-go refuses the same; say it at startup, not at the first
	// campaign.
	if l.LeaseDuration <= l.RenewDeadline || float64(l.RenewDeadline) <= leaderelection.JitterFactor*float64(l.RetryPeriod) {
		return l, fmt.Errorf("reconcile: leader election needs lease duration (%v) > renew deadline (%v) > %.1f × retry period (%v)",
			l.LeaseDuration, l.RenewDeadline, leaderelection.JitterFactor, l.RetryPeriod)
	}
	return l, nil
}

// elector campaigns for the Lease and runs lead for as long as it holds
// it, over and over until its context ends.
type elector struct {
	config LeaderElection
	lock   *leaseGuard
	lead   func(context.Context) error
	log    logr.Logger
}

func newElector(cfg *rest.Config, le LeaderElection, lead func(context.Context) error, log logr.Logger) (*elector, error) {
	le, err := le.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "baton-leader-election")
	// One hung request must not use up the whole renew deadline.
	cfg.Timeout = max(le.RenewDeadline/2, time.Second)
	leases, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("reconcile: leader election client: %w", err)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.Name},
		Client:     leases,
		LockConfig: resourcelock.ResourceLockConfig{Identity: le.Identity},
	}
	return &elector{config: le, lock: &leaseGuard{Interface: lock, renewDeadline: le.RenewDeadline}, lead: lead, log: log}, nil
}

// run never returns an error: a lost Lease only pauses lead.
func (e *elector) run(ctx context.Context) error {
	e.log.Info("campaigning for the Lease", "lease", e.lock.Describe(), "identity", e.config.Identity)
	for ctx.Err() == nil {
		e.campaign(ctx)
	}
	return nil
}

// campaign runs one client-go election: acquire, lead while renewing,
// and return once the term is over. The election's own context outlives
// ctx on purpose: it is cancelled only after lead has returned, so that
// the Lease is released (ReleaseOnCancel) only when nothing writes any
// more.
func (e *elector) campaign(ctx context.Context) {
	won := make(chan context.Context, 1) // the election may end before we read it
	election, err := leaderelection.NewLeaderElector(e.electionConfig(won))
	if err != nil { // withDefaults checked what client-go checks
		panic(err)
	}
	electionCtx, endElection := context.WithCancel(context.WithoutCancel(ctx))
	defer endElection()
	over := make(chan struct{})
	go func() { defer close(over); election.Run(electionCtx) }()
	select {
	case term := <-won:
		e.serve(ctx, term)
	case <-over:
		return
	case <-ctx.Done():
	}
	endElection()
	<-over
}

func (e *elector) electionConfig(won chan<- context.Context) leaderelection.LeaderElectionConfig {
	return leaderelection.LeaderElectionConfig{
		Lock:            e.lock,
		LeaseDuration:   e.config.LeaseDuration,
		RenewDeadline:   e.config.RenewDeadline,
		RetryPeriod:     e.config.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            e.config.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(term context.Context) { won <- term },
			OnStoppedLeading: func() {},
		},
	}
}

// serve runs lead until the term ends, ctx ends, or the guard finds the
// last renewal too old, whichever comes first.
func (e *elector) serve(ctx, term context.Context) {
	term, cancel := context.WithCancel(term)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	term, cancelGuard := e.lock.leading(term)
	defer cancelGuard()
	e.log.Info("won the Lease: writing statuses and Events")
	if err := e.lead(term); err != nil {
		e.log.Error(err, "status writer stopped")
	}
	if ctx.Err() == nil {
		e.log.Info("lost the Lease: statuses and Events paused until it is won again; routing goes on")
	}
}

// leaseGuard wraps the Lease lock to know how long this replica may still
// act as the leader: until RenewDeadline after the start of its last
// successful acquire or renew. The other replicas wait LeaseDuration from
// when they saw that renewal, which is later, so a deposed leader has
// stopped at least LeaseDuration-RenewDeadline before another may start.
// client-go alone ends a term later: a renewal may start up to RetryPeriod
// after the last one and is given RenewDeadline, then the release may take
// RenewDeadline more before the term's context is cancelled.
type leaseGuard struct {
	resourcelock.Interface
	renewDeadline time.Duration

	mu    sync.Mutex
	until time.Time
}

func (g *leaseGuard) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	return g.write(r, func() error { return g.Interface.Create(ctx, r) })
}

func (g *leaseGuard) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	return g.write(r, func() error { return g.Interface.Update(ctx, r) })
}

func (g *leaseGuard) write(r resourcelock.LeaderElectionRecord, write func() error) error {
	start := time.Now()
	err := write()
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err != nil: // until runs out by itself
	case r.HolderIdentity == g.Identity():
		g.until = start.Add(g.renewDeadline)
	default: // released
		g.until = time.Time{}
	}
	return err
}

func (g *leaseGuard) deadline() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

// leading returns a context that ends with parent or when the last
// successful renewal is RenewDeadline old.
func (g *leaseGuard) leading(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go g.expire(ctx, cancel)
	return ctx, cancel
}

func (g *leaseGuard) expire(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	for {
		left := time.Until(g.deadline())
		if left <= 0 {
			return
		}
		timer := time.NewTimer(left)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}
