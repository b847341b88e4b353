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
// without taxing an isolated change: after a quiet spell (no rebuild in the
// last interval) Wait returns at once, so a lone change is applied as soon
// as it is seen. While changes keep arriving, rebuilds start at most once
// per interval, and each takes in every change seen until it starts: a
// change waits at most one interval (plus the rebuild in progress), however
// long the burst lasts. Changes that arrive while the caller rebuilds are
// remembered (the channel holds one) and start the next wait.
type debouncer struct {
	interval time.Duration
	kick     chan struct{}
	// lastStart is when Wait last returned, that is when the last rebuild
	// started; owned by the goroutine calling Wait.
	lastStart time.Time
}

func newDebouncer(interval time.Duration) *debouncer {
	return &debouncer{interval: interval, kick: make(chan struct{}, 1)}
}

// Trigger never blocks: one pending notification stands for any number.
func (d *debouncer) Trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Wait blocks until a change is pending and the last rebuild started at
// least one interval ago, or ctx ends.
func (d *debouncer) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.kick:
	}
	if err := ctx.Err(); err != nil {
		return err // select picks at random when both are ready
	}
	if hold := d.interval - time.Since(d.lastStart); hold > 0 {
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
	return nil
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
