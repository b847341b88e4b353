package reconcile

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// routeKey is one HTTPRoute or GRPCRoute.
type routeKey struct {
	grpc bool
	key  types.NamespacedName
}

// writeGatewayAPI writes the statuses of our GatewayClasses, Gateways and
// the routes attached to them, each only when it changed. Conditions keep
// their lastTransitionTime unless their status flips.
func (w *statusWriter) writeGatewayAPI(ctx context.Context, out *gateway.Output) error {
	var errs []error
	for _, r := range out.Classes {
		errs = append(errs, w.writeClass(ctx, r))
	}
	for _, r := range out.GatewayStatuses {
		errs = append(errs, w.writeGatewayStatus(ctx, r))
	}
	now := map[routeKey]bool{}
	for _, r := range out.HTTPRoutes {
		now[routeKey{false, r.Key}] = true
		errs = append(errs, w.writeRoute(ctx, &gatewayv1.HTTPRoute{}, r))
	}
	for _, r := range out.GRPCRoutes {
		now[routeKey{true, r.Key}] = true
		errs = append(errs, w.writeRoute(ctx, &gatewayv1.GRPCRoute{}, r))
	}
	for k := range w.routesWithUs {
		if now[k] {
			continue
		}
		var obj client.Object = &gatewayv1.HTTPRoute{}
		if k.grpc {
			obj = &gatewayv1.GRPCRoute{}
		}
		if err := w.writeRoute(ctx, obj, gateway.RouteResult{Key: k.key}); err != nil {
			errs = append(errs, err)
			now[k] = true // try again on the next pass
		}
	}
	w.routesWithUs = now
	for _, r := range out.BackendTLSPolicies {
		errs = append(errs, w.writePolicy(ctx, r))
	}
	return errors.Join(errs...)
}

// writePolicy replaces our ancestor entries of a BackendTLSPolicy, as
// writeRoute does parents.
func (w *statusWriter) writePolicy(ctx context.Context, r gateway.PolicyResult) error {
	var p gatewayv1.BackendTLSPolicy
	if err := w.reader.Get(ctx, r.Key, &p); err != nil {
		return client.IgnoreNotFound(err)
	}
	ctrl := gatewayv1.GatewayController(w.opts.GatewayControllerName)
	want := []gatewayv1.PolicyAncestorStatus{}
	for _, a := range p.Status.Ancestors {
		if a.ControllerName != ctrl {
			want = append(want, a)
		}
	}
	for _, a := range r.Ancestors {
		var old []metav1.Condition
		for _, c := range p.Status.Ancestors {
			if c.ControllerName == ctrl && equality.Semantic.DeepEqual(c.AncestorRef, a.AncestorRef) {
				old = c.Conditions
			}
		}
		a.Conditions = mergeConditions(old, a.Conditions)
		want = append(want, a)
	}
	if equality.Semantic.DeepEqual(p.Status.Ancestors, want) {
		return nil
	}
	patch := client.MergeFromWithOptions(p.DeepCopy(), client.MergeFromWithOptimisticLock{})
	p.Status.Ancestors = want
	return w.patchStatus(ctx, &p, patch)
}

func (w *statusWriter) writeClass(ctx context.Context, r gateway.ClassResult) error {
	var gc gatewayv1.GatewayClass
	if err := w.reader.Get(ctx, types.NamespacedName{Name: r.Name}, &gc); err != nil {
		return client.IgnoreNotFound(err)
	}
	want := r.Status
	want.Conditions = mergeConditions(gc.Status.Conditions, r.Status.Conditions)
	if equality.Semantic.DeepEqual(gc.Status, want) {
		return nil
	}
	patch := client.MergeFrom(gc.DeepCopy())
	gc.Status = want
	return w.patchStatus(ctx, &gc, patch)
}

func (w *statusWriter) writeGatewayStatus(ctx context.Context, r gateway.GatewayResult) error {
	var g gatewayv1.Gateway
	if err := w.reader.Get(ctx, r.Key, &g); err != nil {
		return client.IgnoreNotFound(err)
	}
	want := r.Status
	want.Conditions = mergeConditions(g.Status.Conditions, r.Status.Conditions)
	for i := range want.Listeners {
		var old []metav1.Condition
		for _, l := range g.Status.Listeners {
			if l.Name == want.Listeners[i].Name {
				old = l.Conditions
			}
		}
		want.Listeners[i].Conditions = mergeConditions(old, want.Listeners[i].Conditions)
	}
	want.AttachedListenerSets = g.Status.AttachedListenerSets
	if equality.Semantic.DeepEqual(g.Status, want) {
		return nil
	}
	patch := client.MergeFrom(g.DeepCopy())
	g.Status = want
	return w.patchStatus(ctx, &g, patch)
}

// writeRoute replaces our parent entries of a route, leaving other
// controllers' alone; the patch is optimistic (resourceVersion), so an
// entry another controller writes meanwhile is never lost, only retried.
func (w *statusWriter) writeRoute(ctx context.Context, obj client.Object, r gateway.RouteResult) error {
	if err := w.reader.Get(ctx, r.Key, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	status := routeStatus(obj)
	want := mergeParents(status.Parents, r.Parents, gatewayv1.GatewayController(w.opts.GatewayControllerName))
	if equality.Semantic.DeepEqual(status.Parents, want) {
		return nil
	}
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	status.Parents = want
	return w.patchStatus(ctx, obj, patch)
}

func routeStatus(obj client.Object) *gatewayv1.RouteStatus {
	switch o := obj.(type) {
	case *gatewayv1.HTTPRoute:
		return &o.Status.RouteStatus
	case *gatewayv1.GRPCRoute:
		return &o.Status.RouteStatus
	}
	panic(fmt.Sprintf("routeStatus: %T is not a route", obj))
}

// mergeParents keeps other controllers' entries in place and puts ours
// (with the old lastTransitionTimes) after them. The result is never nil,
// as the CRD requires the list.
func mergeParents(cur, ours []gatewayv1.RouteParentStatus, ctrl gatewayv1.GatewayController) []gatewayv1.RouteParentStatus {
	out := []gatewayv1.RouteParentStatus{}
	for _, p := range cur {
		if p.ControllerName != ctrl {
			out = append(out, p)
		}
	}
	for _, p := range ours {
		var old []metav1.Condition
		for _, c := range cur {
			if c.ControllerName == ctrl && equality.Semantic.DeepEqual(c.ParentRef, p.ParentRef) {
				old = c.Conditions
			}
		}
		p.Conditions = mergeConditions(old, p.Conditions)
		out = append(out, p)
	}
	return out
}

// mergeConditions is next with the lastTransitionTimes of cur where the
// status did not change, and now where it did or is new.
func mergeConditions(cur, next []metav1.Condition) []metav1.Condition {
	merged := make([]metav1.Condition, 0, len(next))
	for _, c := range next {
		if old := meta.FindStatusCondition(cur, c.Type); old != nil {
			merged = append(merged, *old)
		}
		meta.SetStatusCondition(&merged, c)
	}
	return merged
}

func (w *statusWriter) patchStatus(ctx context.Context, obj client.Object, patch client.Patch) error {
	if err := w.client.Status().Patch(ctx, obj, patch, fieldOwner); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("status of %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err))
	}
	return nil
}
