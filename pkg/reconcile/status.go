package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/flowcontrol"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/reconcile/gateway"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// fieldOwner names Baton in managedFields of the statuses it writes.
const fieldOwner = client.FieldOwner("baton")

// statusWriter writes what the build loop found back to the API: Upstream
// status, Ingress status.loadBalancer and Warning Events. It runs on the
// leader only, so replicas never fight over a status or double an Event;
// every replica still builds and serves snapshots.
type statusWriter struct {
	client   client.Client
	reader   client.Reader
	recorder recorder.EventRecorder
	opts     Options
	log      logr.Logger

	latest atomic.Pointer[translate.Output]
	// gateways are the newest Gateway API results, nil when it is off.
	gateways atomic.Pointer[gateway.Output]
	kick     chan struct{}

	// Owned by run.
	events warningEvents
	// leaving are Ingresses that left our class whose status clear failed.
	leaving map[types.NamespacedName]bool
	retry   time.Duration
	// routesWithUs are the routes our last pass gave parent statuses, to
	// take ours off those whose parentRefs left our Gateways.
	routesWithUs map[routeKey]bool
	// Ingress statuses are checked only where something may have changed
	// (see writeIngresses): lastResults is the results list of the last
	// complete pass, lastAddresses what it published, and recheck the
	// Ingresses whose status someone else changed since, or whose write
	// failed.
	checked       bool
	lastResults   translate.IngressResults
	lastAddresses loadBalancer
	recheckMu     sync.Mutex
	recheck       map[types.NamespacedName]bool
	limiter       flowcontrol.RateLimiter
}

func newStatusWriter(mgr ctrl.Manager, reader client.Reader, opts Options, log logr.Logger) *statusWriter {
	return &statusWriter{
		client:   mgr.GetClient(),
		reader:   reader,
		recorder: mgr.GetEventRecorder(ReportingController),
		opts:     opts,
		log:      log,
		kick:     make(chan struct{}, 1),
		limiter:  flowcontrol.NewTokenBucketRateLimiter(float32(opts.StatusWritesPerSecond), max(1, int(opts.StatusWritesPerSecond))),
	}
}

// statusChanged asks the next pass to check the status of the Ingress obj,
// which someone changed.
func (w *statusWriter) statusChanged(obj client.Object) {
	w.statusChangedKey(client.ObjectKeyFromObject(obj))
	w.trigger()
}

func (w *statusWriter) takeRecheck() map[types.NamespacedName]bool {
	w.recheckMu.Lock()
	defer w.recheckMu.Unlock()
	keys := w.recheck
	w.recheck = nil
	return keys
}

// publish hands over the newest build results; older ones not yet written
// are skipped, since the newest supersede them.
func (w *statusWriter) publish(out *translate.Output, gw *gateway.Output) {
	w.gateways.Store(gw)
	w.latest.Store(out)
	w.trigger()
}

func (w *statusWriter) trigger() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run starts when this replica is elected, and again at every later
// term: it first catches up with the latest results, which may have been
// published while another replica led or while the last term's writes
// were failing.
func (w *statusWriter) run(ctx context.Context) error {
	statusLeader.Set(1)
	defer statusLeader.Set(0)
	w.retry = 0
	w.checked = false // a new term checks every status once
	w.trigger()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		}
		out := w.latest.Load()
		if out == nil || ctx.Err() != nil { // the select may pick kick after the term ended
			continue
		}
		if err := w.write(ctx, out); err != nil && ctx.Err() == nil {
			w.retry = min(max(2*w.retry, minRetry), maxRetry)
			w.log.Error(err, "writing status failed; retrying", "after", w.retry)
			time.AfterFunc(w.retry, w.trigger)
			continue
		}
		w.retry = 0
	}
}

func (w *statusWriter) write(ctx context.Context, out *translate.Output) error {
	var errs []error
	for i := range out.Upstreams {
		errs = append(errs, w.writeUpstream(ctx, &out.Upstreams[i]))
	}
	errs = append(errs, w.writeIngresses(ctx, out.Ingresses))
	gw := w.gateways.Load()
	if gw != nil {
		errs = append(errs, w.writeGatewayAPI(ctx, gw))
	}
	w.recordEvents(ctx, out, gw)
	return errors.Join(errs...)
}

// writeUpstream patches an Upstream's status when it differs from the
// cached one. Conditions keep their lastTransitionTime unless their status
// flips.
func (w *statusWriter) writeUpstream(ctx context.Context, r *translate.UpstreamResult) error {
	var u v1alpha1.Upstream
	if err := w.reader.Get(ctx, r.Key, &u); err != nil {
		return client.IgnoreNotFound(err)
	}
	want := mergeUpstreamStatus(u.Status, r.Status)
	if equality.Semantic.DeepEqual(u.Status, want) {
		return nil
	}
	if err := w.wait(ctx, "Upstream"); err != nil {
		return err
	}
	patch := client.MergeFrom(u.DeepCopy())
	u.Status = want
	if err := w.client.Status().Patch(ctx, &u, patch, fieldOwner); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("status of Upstream %s: %w", r.Key, err))
	}
	return nil
}

func mergeUpstreamStatus(cur, next v1alpha1.UpstreamStatus) v1alpha1.UpstreamStatus {
	merged := next
	merged.Conditions = nil
	for _, c := range next.Conditions {
		if old := meta.FindStatusCondition(cur.Conditions, c.Type); old != nil {
			merged.Conditions = append(merged.Conditions, *old)
		}
		meta.SetStatusCondition(&merged.Conditions, c)
	}
	return merged
}

// writeIngresses sets status.loadBalancer on our Ingresses, and clears it
// on Ingresses that left our class while still showing our addresses
// (another controller's addresses are left alone). Without an address
// source Baton never touches Ingress status.
func (w *statusWriter) writeIngresses(ctx context.Context, results translate.IngressResults) error {
	if !w.opts.publishesStatus() {
		return nil
	}
	want, err := w.addresses(ctx)
	if err != nil {
		return err
	}
	recheck := w.takeRecheck()
	everything := !w.checked || !sameAddresses(w.lastAddresses, want)
	var errs []error
	failed := func(key types.NamespacedName, err error) {
		if err != nil {
			errs = append(errs, err)
			w.statusChangedKey(key) // try again on the next pass
		}
	}
	w.retryLeaving(ctx, results, want, &errs)
	if everything || !results.Same(w.lastResults) {
		// Only a changed list can have gained or lost Ingresses: with the
		// same results (every EndpointSlice change) the pass costs what
		// was rechecked, not the cluster.
		diffResults(w.lastResults, results, func(key types.NamespacedName, joined, left bool) {
			switch {
			case left:
				w.clearLeft(ctx, key, want, &errs)
			case joined || everything || recheck[key]:
				failed(key, w.setIngressStatus(ctx, key, want))
			}
		})
	} else {
		for key := range recheck {
			if translate.FindResult(results, key) != nil {
				failed(key, w.setIngressStatus(ctx, key, want))
			}
		}
	}
	w.lastResults, w.lastAddresses, w.checked = results, want, true
	return errors.Join(errs...)
}

// retryLeaving clears again the status of the Ingresses whose clear
// failed and that are still out of our class.
func (w *statusWriter) retryLeaving(ctx context.Context, results translate.IngressResults, ours loadBalancer, errs *[]error) {
	for key := range w.leaving {
		if translate.FindResult(results, key) == nil {
			w.clearLeft(ctx, key, ours, errs)
		} else {
			delete(w.leaving, key) // back in our class: the list changed, so the pass sets it
		}
	}
}

// clearLeft clears the status of an Ingress that left our class; when
// that fails, the next pass tries again.
func (w *statusWriter) clearLeft(ctx context.Context, key types.NamespacedName, ours loadBalancer, errs *[]error) {
	if err := w.clearIngressStatus(ctx, key, ours); err != nil {
		*errs = append(*errs, err)
		if w.leaving == nil {
			w.leaving = map[types.NamespacedName]bool{}
		}
		w.leaving[key] = true
		return
	}
	delete(w.leaving, key)
}

// diffResults walks last and now, both sorted by key, in step: visit sees
// every key of either, and whether it is only in now (joined) or only in
// last (left). No map of every Ingress is made.
func diffResults(last, now translate.IngressResults, visit func(key types.NamespacedName, joined, left bool)) {
	next, stop := iter.Pull2(last.All())
	defer stop()
	_, old, more := next()
	for _, r := range now.All() {
		for more && compareKeys(old.Key, r.Key) < 0 {
			visit(old.Key, false, true)
			_, old, more = next()
		}
		same := more && old.Key == r.Key
		visit(r.Key, !same, false)
		if same {
			_, old, more = next()
		}
	}
	for ; more; _, old, more = next() {
		visit(old.Key, false, true)
	}
}

// compareKeys is the order of IngressResults: namespace, then name.
func compareKeys(a, b types.NamespacedName) int {
	return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
}

func (w *statusWriter) statusChangedKey(key types.NamespacedName) {
	w.recheckMu.Lock()
	defer w.recheckMu.Unlock()
	if w.recheck == nil {
		w.recheck = map[types.NamespacedName]bool{}
	}
	w.recheck[key] = true
}

// addresses are the ones to publish. A missing publish Service is an
// error that leaves every status as it is: clearing all of them because
// of a typo or a slow cache would be worse than stale addresses.
func (w *statusWriter) addresses(ctx context.Context) (loadBalancer, error) {
	if len(w.opts.PublishStatusAddress) > 0 {
		return staticAddresses(w.opts.PublishStatusAddress), nil
	}
	var svc corev1.Service
	if err := w.reader.Get(ctx, *w.opts.PublishService, &svc); err != nil {
		return nil, fmt.Errorf("publish Service %s: %w", w.opts.PublishService, err)
	}
	return serviceAddresses(&svc), nil
}

// setIngressStatus writes want unless the Ingress already shows it.
func (w *statusWriter) setIngressStatus(ctx context.Context, key types.NamespacedName, want loadBalancer) error {
	var ing networkingv1.Ingress
	if err := w.reader.Get(ctx, key, &ing); err != nil {
		return client.IgnoreNotFound(err)
	}
	if sameAddresses(ing.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	return w.patchIngress(ctx, &ing, want)
}

// clearIngressStatus empties the status of an Ingress that left our class,
// if it still shows exactly our addresses.
func (w *statusWriter) clearIngressStatus(ctx context.Context, key types.NamespacedName, ours loadBalancer) error {
	var ing networkingv1.Ingress
	if err := w.reader.Get(ctx, key, &ing); err != nil {
		return client.IgnoreNotFound(err)
	}
	have := ing.Status.LoadBalancer.Ingress
	if len(have) == 0 || !sameAddresses(have, ours) {
		return nil
	}
	return w.patchIngress(ctx, &ing, nil)
}

func (w *statusWriter) patchIngress(ctx context.Context, ing *networkingv1.Ingress, want loadBalancer) error {
	if err := w.wait(ctx, "Ingress"); err != nil {
		return err
	}
	patch := client.MergeFrom(ing.DeepCopy())
	ing.Status.LoadBalancer.Ingress = want
	if err := w.client.Status().Patch(ctx, ing, patch, fieldOwner); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("status of Ingress %s/%s: %w", ing.Namespace, ing.Name, err))
	}
	return nil
}

func sameAddresses(a, b loadBalancer) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return equality.Semantic.DeepEqual(normalize(append(loadBalancer(nil), a...)), b)
}

// recordEvents emits one Warning Event per new warning. The object is read
// from the cache for its UID; a warning about an object already deleted
// is dropped.
func (w *statusWriter) recordEvents(ctx context.Context, out *translate.Output, gw *gateway.Output) {
	for _, k := range w.events.fresh(out, gw) {
		if ctx.Err() != nil {
			// The term ended mid-write: Events are sent in the background
			// whatever ctx says, so leave this one to the next term.
			w.events.forget(k)
			continue
		}
		obj := client.Object(&networkingv1.Ingress{})
		if k.kind == kindUpstream {
			obj = &v1alpha1.Upstream{}
		} else if g := gatewayObject(k.kind); g != nil {
			obj = g
		}
		if err := w.reader.Get(ctx, k.object, obj); err != nil {
			w.events.forget(k)
			continue
		}
		w.recorder.Eventf(obj, nil, corev1.EventTypeWarning, k.reason, eventAction, "%s", k.message)
	}
}

// wait takes a token from the limiter for one status patch of kind.
func (w *statusWriter) wait(ctx context.Context, kind string) error {
	if err := w.limiter.Wait(ctx); err != nil {
		return err
	}
	statusWrites.WithLabelValues(kind).Inc()
	return nil
}
