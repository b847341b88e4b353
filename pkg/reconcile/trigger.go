package reconcile

import (
	"context"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// debouncer turns any number of change notifications into few rebuilds
// without taxing isolated changes. It is a token bucket on rebuild starts
// (GCRA: one timestamp instead of a token count): up to rebuildBurst
// rebuilds may start back to back, so a lone change, or a person applying
// three manifests in a row, is applied as soon as it is seen; a longer
// run of changes is held to one rebuild start per interval, each rebuild
// taking in every change seen until it starts. A change never waits more
// than one interval (plus the rebuild in progress), however long the
// stream lasts. Changes that arrive while the caller rebuilds are
// remembered (the channel holds one) and start the next wait.
//
// The hold exists to bound the CPU that rebuilds take under churn, so a
// paced debouncer (the controller's) refills a token every costFactor
// rebuild durations instead of every interval, within [interval/10,
// interval]: when rebuilds are cheap, as incremental ones are, a stream
// of changes is applied nearly as it comes while rebuilds still take at
// most about 1/costFactor of the time; a slow rebuild is paced by the
// interval as before.
type debouncer struct {
	interval time.Duration
	burst    int
	kick     chan struct{}
	// period is how often a token comes back: interval, or from the
	// last rebuild's cost when costFactor is set.
	period     time.Duration
	costFactor int
	// refilled is when the bucket would be full again, had no rebuild
	// started since; lastStart is when Wait last returned. Both are owned
	// by the goroutine calling Wait.
	refilled  time.Time
	lastStart time.Time
}

// rebuildBurst is how many rebuilds may start back to back after a quiet
// spell: a handful of manifests applied together are each rebuilt at once,
// while churn still gets one rebuild per interval.
const rebuildBurst = 3

// rebuildCostFactor is how many rebuild durations a paced debouncer
// waits per token: under a steady stream rebuilds take at most about a
// quarter of the controller's time.
const rebuildCostFactor = 4

func newDebouncer(interval time.Duration) *debouncer {
	return &debouncer{interval: interval, period: interval, burst: rebuildBurst, kick: make(chan struct{}, 1)}
}

// newPacedDebouncer paces rebuilds by their cost, with interval as the
// longest token period.
func newPacedDebouncer(interval time.Duration) *debouncer {
	d := newDebouncer(interval)
	d.costFactor = rebuildCostFactor
	return d
}

// rebuilt sets the token period from the cost of the rebuild that just
// ended.
func (d *debouncer) rebuilt(cost time.Duration) {
	if d.costFactor == 0 {
		return
	}
	d.period = min(d.interval, max(d.interval/10, time.Duration(d.costFactor)*cost))
}

// Trigger never blocks: one pending notification stands for any number.
func (d *debouncer) Trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Wait blocks until a change is pending and the bucket holds a rebuild
// start, or ctx ends.
func (d *debouncer) Wait(ctx context.Context) error {
	if !d.lastStart.IsZero() { // the caller rebuilds between two Waits
		d.rebuilt(time.Since(d.lastStart))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.kick:
	}
	if err := ctx.Err(); err != nil {
		return err // select picks at random when both are ready
	}
	if hold := d.hold(time.Now()); hold > 0 {
		timer := time.NewTimer(hold)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		// The rebuild about to start reads the cache after every change
		// notified so far, so a notification that came meanwhile is served.
		select {
		case <-d.kick:
		default:
		}
	}
	d.lastStart = time.Now()
	d.started(d.lastStart)
	return nil
}

// hold is how long a rebuild wanted at now must wait for a token: none
// while the bucket, refilled one token per period, holds one. It is
// never more than one period, because started only spends a token that
// is there (the min covers a period that just shrank).
func (d *debouncer) hold(now time.Time) time.Duration {
	return min(d.period, d.refilled.Add(-time.Duration(d.burst-1)*d.period).Sub(now))
}

// started spends a token for a rebuild that starts at now.
func (d *debouncer) started(now time.Time) {
	if d.refilled.Before(now) {
		d.refilled = now // full: tokens beyond the burst are not saved up
	}
	d.refilled = d.refilled.Add(d.period)
}

// changeHandler triggers on every add and delete, and on the updates that
// can change a snapshot.
func changeHandler(changed func(obj any)) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		DeleteFunc: changed,
		UpdateFunc: func(oldObj, newObj any) {
			if relevantUpdate(oldObj, newObj) {
				changed(newObj)
			}
		},
	}
}

// relevantUpdate drops the resync of an unchanged object and the status
// updates of Ingresses and Upstreams, which Baton writes itself and which
// never change a snapshot (Ingress annotations can: the legacy class).
// Service status does matter: it is the publish Service's address.
func relevantUpdate(oldObj, newObj any) bool {
	o, ok1 := oldObj.(metav1.Object)
	n, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 {
		return true
	}
	if o.GetResourceVersion() == n.GetResourceVersion() {
		return false
	}
	switch newObj.(type) {
	case *v1alpha1.Upstream:
		return o.GetGeneration() != n.GetGeneration()
	case *networkingv1.Ingress:
		return o.GetGeneration() != n.GetGeneration() || !maps.Equal(o.GetAnnotations(), n.GetAnnotations())
	case *gatewayv1.GatewayClass, *gatewayv1.HTTPRoute, *gatewayv1.GRPCRoute, *gatewayv1.BackendTLSPolicy:
		// Baton writes their status, which changes no snapshot.
		return o.GetGeneration() != n.GetGeneration()
	case *gatewayv1.Gateway:
		// Its status addresses are read back: they keep an address stable.
		return o.GetGeneration() != n.GetGeneration() ||
			!equality.Semantic.DeepEqual(oldObj.(*gatewayv1.Gateway).Status.Addresses, newObj.(*gatewayv1.Gateway).Status.Addresses)
	case *corev1.Namespace:
		return !maps.Equal(o.GetLabels(), n.GetLabels()) // allowedRoutes selectors
	}
	return true
}

// statusDrift reports the Ingresses whose published status changed, by
// Baton or anyone else, so the status writer checks just those again.
func statusDrift(changed func(client.Object)) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*networkingv1.Ingress)
			n, ok2 := newObj.(*networkingv1.Ingress)
			if ok1 && ok2 && !equality.Semantic.DeepEqual(o.Status.LoadBalancer, n.Status.LoadBalancer) {
				changed(n)
			}
		},
	}
}
