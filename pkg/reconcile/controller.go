package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// Retry delays after a failed list or Apply.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 30 * time.Second
)

// Controller watches the cluster and keeps the Sink's snapshot current.
type Controller struct {
	opts    Options
	cache   cache.Cache
	sink    Sink
	log     logr.Logger
	changes *debouncer
	status  *statusWriter
	// gatewayAPI says which Gateway API kinds are installed and watched.
	gatewayAPI gatewayAPI
	// changed are the keys seen changing since the last rebuild;
	// gatewayChanged those the Gateway API translation reads.
	changed, gatewayChanged changedKeys

	readyOnce sync.Once
	ready     chan struct{}

	// Owned by the build loop.
	version uint64
	applied *snapshot.Snapshot
	// translated is the snapshot applied was isolated from (the same one
	// when the sink refused nothing), and rejected what the sink refused
	// of it; together they let an unchanged translation skip the sink.
	translated *snapshot.Snapshot
	rejected   []rejection
	retry      time.Duration
	warnings   []translate.Warning
	gauges     upstreamGauges
	// translations carries translation results across rebuilds, so a
	// change re-translates only what depends on the changed objects.
	translations *translate.Cache
	// gatewayTranslations does the same for Gateway API routes.
	gatewayTranslations *gatewayCache
	// gatewaysIdle: the last Gateway API translation had nothing of ours;
	// until a GatewayClass of ours appears, there is nothing to translate.
	gatewaysIdle bool
	// gatewayJoin is the last snapshot withGateways made, for the next
	// to patch.
	gatewayJoin gatewayJoin
	// lastGood are the certificates of the snapshot last applied, by
	// Secret, so that deleting or breaking a TLS Secret keeps serving its
	// last good certificate (see translate.Input.LastGoodCertificates).
	// It lives in memory only: after a restart a Secret that is already
	// missing or invalid has no certificate, as before this memory existed.
	lastGood map[types.NamespacedName]snapshot.Certificate
}

// Setup registers the controller with mgr: its own object cache, the build
// loop (every replica) and the status writer (the leader only). The
// Upstream CRD must be installed. mgr's scheme must include AddToScheme.
func Setup(mgr ctrl.Manager, sink Sink, opts Options) (*Controller, error) {
	if sink == nil {
		return nil, errors.New("reconcile: Setup needs a Sink")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	registerMetrics()
	log := mgr.GetLogger().WithName("reconcile")
	api, err := discoverGatewayAPI(mgr.GetRESTMapper(), log)
	if err != nil {
		return nil, err
	}
	objects, err := newObjectCache(mgr, opts, api)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		opts: opts, cache: objects, sink: sink, log: log, gatewayAPI: api,
		changes: newPacedDebouncer(opts.Debounce),
		ready:   make(chan struct{}),
	}
	c.status = newStatusWriter(mgr, objects, opts, log.WithName("status"))
	if err := c.watch(objects); err != nil {
		return nil, err
	}
	writer, err := c.statusRunnable(mgr)
	if err != nil {
		return nil, err
	}
	for _, r := range []manager.Runnable{objects, runnable{c.run, false}, writer} {
		if err := mgr.Add(r); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
	}
	return c, nil
}

// statusRunnable runs the status writer under Baton's own leader election
// when it is configured. It is not the manager's: losing that Lease stops
// the manager, and with it the data plane, while losing ours only pauses
// the writer.
func (c *Controller) statusRunnable(mgr ctrl.Manager) (manager.Runnable, error) {
	if c.opts.LeaderElection == nil {
		return runnable{c.status.run, true}, nil
	}
	e, err := newElector(mgr.GetConfig(), *c.opts.LeaderElection, c.status.run, c.log.WithName("leader"))
	if err != nil {
		return nil, err
	}
	return runnable{e.run, false}, nil
}

// Ready reports whether the data plane has accepted a first snapshot.
func (c *Controller) Ready() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// WaitReady blocks until the first snapshot is applied or ctx ends.
func (c *Controller) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watch registers the change handler on every watched kind. The informers
// start with the cache.
func (c *Controller) watch(objects cache.Cache) error {
	ingressSide := len(watchedObjects())
	for i, obj := range append(watchedObjects(), c.gatewayAPI.objects()...) {
		kind, gatewaySide := kindOf(obj), i >= ingressSide || c.gatewayAPI.reads(obj)
		h := changeHandler(func(o any) {
			if i < ingressSide {
				c.changed.add(kind, o)
			}
			if gatewaySide {
				c.gatewayChanged.add(kind, o)
			}
			c.changes.Trigger()
		})
		inf, err := objects.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("reconcile: watch %T: %w (is the CRD from config/crd installed?)", obj, err)
		}
		if err != nil {
			return fmt.Errorf("reconcile: watch %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("reconcile: watch %T: %w", obj, err)
		}
		if _, ok := obj.(*networkingv1.Ingress); ok {
			if _, err := inf.AddEventHandler(statusDrift(c.status.statusChanged)); err != nil {
				return fmt.Errorf("reconcile: watch %T: %w", obj, err)
			}
		}
	}
	return nil
}

// run is the build loop: one snapshot per settled burst of changes.
func (c *Controller) run(ctx context.Context) error {
	if !c.cache.WaitForCacheSync(ctx) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("reconcile: the object cache did not sync")
	}
	c.changes.Trigger() // an empty cluster still gets its (empty) first snapshot
	for c.changes.Wait(ctx) == nil {
		c.rebuild(ctx)
	}
	return nil
}

// rebuild lists, translates, applies and hands the results to the status
// writer. A failure is retried with backoff; newer changes retry sooner.
func (c *Controller) rebuild(ctx context.Context) {
	start := time.Now()
	out, in, err := c.translate(ctx)
	if err != nil {
		c.translations = nil // start again from a full list
		c.retryLater(err)
		return
	}
	snap, gwOut, err := c.withGateways(ctx, out.Snapshot)
	if err != nil {
		c.retryLater(err)
		return
	}
	buildSeconds.Observe(time.Since(start).Seconds())
	c.gauges.update(out.Upstreams)
	if err := c.apply(snap); err != nil {
		c.retryLater(err)
		return
	}
	// The translate Cache says what changed since its snapshot's version:
	// with Gateways joined, the one the sink holds is the joined one's.
	out.Snapshot.Version = snap.Version
	c.retry = 0
	if len(c.rejected) > 0 && in.Ingresses == nil {
		if in, err = c.input(ctx); err != nil {
			c.log.Error(err, "listing Ingresses to report what the data plane refused")
		}
	}
	reportRejections(&out, c.translated, in.Ingresses, c.rejected)
	reportGatewayRejections(gwOut, c.rejected)
	// Only certificates that reached the sink count as good: after a failed
	// Apply the previous ones are still the ones being served.
	c.lastGood = out.GoodCertificates
	c.logWarnings(out.Warnings)
	c.status.publish(&out, gwOut)
}

// translate lists every object on the first call, and afterwards reads
// only the objects whose keys the informers reported: a change costs what
// it touches. The Input it returns lists objects only on the first call.
func (c *Controller) translate(ctx context.Context) (translate.Output, translate.Input, error) {
	if c.translations == nil {
		c.changed.take() // the list below sees every change so far
		in, err := c.input(ctx)
		if err != nil {
			return translate.Output{}, in, err
		}
		c.translations = translate.NewCache()
		return c.translations.Translate(in), in, nil
	}
	keys := c.changed.take()
	in, err := c.settings(ctx)
	if err != nil {
		return translate.Output{}, in, err
	}
	ch, err := c.read(ctx, keys)
	if err != nil {
		return translate.Output{}, in, err
	}
	return c.translations.TranslateChanges(in, ch), in, nil
}

// apply hands s to the sink unless it is the snapshot the sink already
// has: the translate Cache returns the same snapshot when nothing in it
// changed, which is what most Secret, status and resync events produce.
// When the sink refuses s, the parts it refuses are left out and the rest
// is applied at once (see Checker).
func (c *Controller) apply(s *snapshot.Snapshot) error {
	if s == c.translated {
		return nil
	}
	c.version++
	s.Version = c.version
	if c.applied != c.translated {
		// The sink holds a part of the last snapshot (see admit) under that
		// snapshot's version: what changed since it is not what changed
		// since the sink's.
		s.Changes = nil
	}
	good, rejected, err := c.admit(s)
	recordApply(s.Version, err)
	if err != nil {
		return fmt.Errorf("apply snapshot %d: %w", s.Version, err)
	}
	c.applied, c.translated, c.rejected = good, s, rejected
	c.log.V(1).Info("applied snapshot", "version", s.Version, "hosts", good.HostCount(), "upstreams", good.UpstreamCount())
	c.readyOnce.Do(func() { close(c.ready) })
	return nil
}

// admit applies s, or the largest part of it the sink accepts.
func (c *Controller) admit(s *snapshot.Snapshot) (*snapshot.Snapshot, []rejection, error) {
	err := c.sink.Apply(s)
	if err == nil {
		return s, nil, nil
	}
	checker, ok := c.sink.(Checker)
	if !ok {
		return nil, nil, err
	}
	good, rejected := isolate(s, checker.Check)
	if good == nil || len(rejected) == 0 {
		return nil, nil, err // nothing to leave out would help
	}
	for _, r := range rejected {
		c.log.Error(r.err, "the data plane refused part of a snapshot; serving the rest without it",
			"version", s.Version, "part", r.part.String())
	}
	if err := c.sink.Apply(good); err != nil {
		return nil, nil, err
	}
	return good, rejected, nil
}

func (c *Controller) retryLater(err error) {
	c.retry = min(max(2*c.retry, minRetry), maxRetry)
	c.log.Error(err, "rebuild failed; retrying", "after", c.retry)
	time.AfterFunc(c.retry, c.changes.Trigger)
}

// logWarnings logs the warnings that concern no object (Events need one)
// when they change, not on every rebuild.
func (c *Controller) logWarnings(ws []translate.Warning) {
	if slices.Equal(ws, c.warnings) {
		return
	}
	c.warnings = ws
	for _, w := range ws {
		c.log.Info("warning", "reason", w.Reason, "message", w.Message)
	}
}

// settings is the Input without objects but the IngressClasses, which are
// few: what TranslateChanges needs besides the changes.
func (c *Controller) settings(ctx context.Context) (translate.Input, error) {
	var classes networkingv1.IngressClassList
	if err := c.cache.List(ctx, &classes, client.UnsafeDisableDeepCopy); err != nil {
		return translate.Input{}, fmt.Errorf("list %T: %w", &classes, err)
	}
	return c.inputWith(classes.Items), nil
}

// inputWith is the Input of the Controller's options and classes, no
// other objects. The build loop replaces lastGood instead of modifying
// it, and Translate only reads it.
func (c *Controller) inputWith(classes []networkingv1.IngressClass) translate.Input {
	return translate.Input{
		ControllerName:         c.opts.ControllerName,
		ClassName:              c.opts.ClassName,
		DefaultTLSSecret:       c.opts.DefaultTLSSecret,
		DefaultBackendService:  c.opts.DefaultBackendService,
		LastGoodCertificates:   c.lastGood,
		IngressClasses:         classes,
		AllowLoopbackEndpoints: c.opts.AllowLoopbackEndpoints,
	}
}

// input lists every watched kind from the cache. Translate never modifies
// its input, so the cache's objects are shared instead of deep-copied:
// that keeps a rebuild cheap in a cluster with thousands of slices.
func (c *Controller) input(ctx context.Context) (translate.Input, error) {
	var (
		classes   networkingv1.IngressClassList
		ingresses networkingv1.IngressList
		services  corev1.ServiceList
		slices    discoveryv1.EndpointSliceList
		secrets   corev1.SecretList
		upstreams v1alpha1.UpstreamList
	)
	for _, list := range []client.ObjectList{&classes, &ingresses, &services, &slices, &secrets, &upstreams} {
		if err := c.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return translate.Input{}, fmt.Errorf("list %T: %w", list, err)
		}
	}
	in := c.inputWith(classes.Items)
	in.Ingresses, in.Services, in.EndpointSlices = ingresses.Items, services.Items, slices.Items
	in.Secrets, in.Upstreams = secrets.Items, upstreams.Items
	return in, nil
}

// runnable lets a function join the manager on the right side of leader
// election.
type runnable struct {
	start  func(context.Context) error
	leader bool
}

func (r runnable) Start(ctx context.Context) error { return r.start(ctx) }
func (r runnable) NeedLeaderElection() bool        { return r.leader }

var (
	_ manager.LeaderElectionRunnable = runnable{}
	_ manager.Runnable               = objectCache{}
)
