package reconcile

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// reads reports whether the Gateway API translation takes the changes of
// obj's kind among the Ingress side's: the backends it resolves.
func (api gatewayAPI) reads(obj any) bool {
	if !api.enabled {
		return false
	}
	switch obj.(type) {
	case *corev1.Service, *discoveryv1.EndpointSlice, *corev1.Secret, *v1alpha1.Upstream:
		return true
	}
	return false
}

// readGateway fetches the objects of keys from the cache, as they are
// now, for the gateway Cache: a key whose object is gone is reported
// deleted. The cache's objects are shared, not copied; the gateway
// translation never modifies them.
func (c *Controller) readGateway(ctx context.Context, keys map[changedKey]bool) (gateway.Changes, error) {
	ch := gateway.Changes{
		GatewayClasses: map[types.NamespacedName]*gatewayv1.GatewayClass{}, Gateways: map[types.NamespacedName]*gatewayv1.Gateway{},
		HTTPRoutes: map[types.NamespacedName]*gatewayv1.HTTPRoute{}, GRPCRoutes: map[types.NamespacedName]*gatewayv1.GRPCRoute{},
		ReferenceGrants:    map[types.NamespacedName]*gatewayv1.ReferenceGrant{},
		BackendTLSPolicies: map[types.NamespacedName]*gatewayv1.BackendTLSPolicy{},
		Namespaces:         map[types.NamespacedName]*corev1.Namespace{}, ConfigMaps: map[types.NamespacedName]*corev1.ConfigMap{},
		Services: map[types.NamespacedName]*corev1.Service{}, EndpointSlices: map[types.NamespacedName]*discoveryv1.EndpointSlice{},
		Secrets: map[types.NamespacedName]*corev1.Secret{}, Upstreams: map[types.NamespacedName]*v1alpha1.Upstream{},
	}
	for k := range keys {
		if err := c.readGatewayKey(ctx, k, &ch); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

func (c *Controller) readGatewayKey(ctx context.Context, k changedKey, ch *gateway.Changes) error {
	switch k.kind {
	case kindOf(&gatewayv1.GatewayClass{}):
		return get(ctx, c.cache, k.key, ch.GatewayClasses)
	case kindOf(&gatewayv1.Gateway{}):
		return get(ctx, c.cache, k.key, ch.Gateways)
	case kindOf(&gatewayv1.HTTPRoute{}):
		return get(ctx, c.cache, k.key, ch.HTTPRoutes)
	case kindOf(&gatewayv1.GRPCRoute{}):
		return get(ctx, c.cache, k.key, ch.GRPCRoutes)
	case kindOf(&gatewayv1.ReferenceGrant{}):
		return get(ctx, c.cache, k.key, ch.ReferenceGrants)
	case kindOf(&gatewayv1.BackendTLSPolicy{}):
		return get(ctx, c.cache, k.key, ch.BackendTLSPolicies)
	case kindOf(&corev1.Namespace{}):
		return get(ctx, c.cache, k.key, ch.Namespaces)
	case kindOf(&corev1.ConfigMap{}):
		return get(ctx, c.cache, k.key, ch.ConfigMaps)
	case kindOf(&corev1.Service{}):
		return get(ctx, c.cache, k.key, ch.Services)
	case kindOf(&discoveryv1.EndpointSlice{}):
		return get(ctx, c.cache, k.key, ch.EndpointSlices)
	case kindOf(&corev1.Secret{}):
		return get(ctx, c.cache, k.key, ch.Secrets)
	case kindOf(&v1alpha1.Upstream{}):
		return get(ctx, c.cache, k.key, ch.Upstreams)
	}
	return nil
}
