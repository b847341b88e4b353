package reconcile

import (
	"context"
	"maps"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// debouncer turns any number of change notifications into few rebuilds:
// Wait returns once Quiet has passed without a change, or MaxDelay after
// the first change, whichever is sooner. Changes that arrive while the
// caller rebuilds are remembered (the channel holds one) and start the
// next wait.
type debouncer struct {
	quiet, maxDelay time.Duration
	kick            chan struct{}
}

func newDebouncer(quiet time.Duration) *debouncer {
	return &debouncer{quiet: quiet, maxDelay: maxDelayFactor * quiet, kick: make(chan struct{}, 1)}
}

// Trigger never blocks: one pending notification stands for any number.
func (d *debouncer) Trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Wait blocks until a change has settled, or ctx ends.
func (d *debouncer) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.kick:
	}
	deadline := time.NewTimer(d.maxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(d.quiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.kick:
			quiet.Reset(d.quiet)
		case <-quiet.C:
			return nil
		case <-deadline.C:
			return nil
		}
	}
}

// changeHandler triggers on every add and delete, and on the updates that
// can change a snapshot.
func changeHandler(trigger func()) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { trigger() },
		DeleteFunc: func(any) { trigger() },
		UpdateFunc: func(oldObj, newObj any) {
			if relevantUpdate(oldObj, newObj) {
				trigger()
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
	}
	return true
}
