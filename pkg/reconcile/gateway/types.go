package gateway

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// ControllerName is the GatewayClass spec.controllerName Baton serves.
const ControllerName gatewayv1.GatewayController = "baton.dev/gateway-controller"

// Input is everything Translate reads.
type Input struct {
	// ControllerName defaults to ControllerName.
	ControllerName gatewayv1.GatewayController
	// AddressPool is where Gateway addresses come from; the zero Prefix
	// means none, and Gateways are then not Programmed.
	AddressPool netip.Prefix
	// HTTPPorts and HTTPSPorts are the ports the data plane listens on
	// without and with TLS; a listener on another port is PortUnavailable.
	HTTPPorts, HTTPSPorts []int
	// Backends resolves Services, Upstreams and Secrets as the Ingress
	// translation does (a *translate.Resolver); a Cache uses its own.
	Backends Backends
	// Namespaces are needed for allowedRoutes selectors (labels only).
	Namespaces []corev1.Namespace
	// ConfigMaps may hold BackendTLSPolicy CA certificates (key ca.crt).
	ConfigMaps []corev1.ConfigMap

	GatewayClasses     []gatewayv1.GatewayClass
	Gateways           []gatewayv1.Gateway
	HTTPRoutes         []gatewayv1.HTTPRoute
	GRPCRoutes         []gatewayv1.GRPCRoute
	ReferenceGrants    []gatewayv1.ReferenceGrant
	BackendTLSPolicies []gatewayv1.BackendTLSPolicy
}

// Backends are the lookups a translation makes, as *translate.Resolver
// answers them. A Cache answers them from the objects it keeps, so that a
// change does not index every Service again.
type Backends interface {
	Service(key types.NamespacedName, port int32) (up snapshot.Upstream, failed *translate.Warning, extra []translate.Warning)
	ServicePort(key types.NamespacedName, port int32) (corev1.ServicePort, bool)
	Upstream(key types.NamespacedName) (up snapshot.Upstream, found bool, notReady *translate.Warning)
	Certificate(key types.NamespacedName) (snapshot.Certificate, *translate.Warning)
	CA(key types.NamespacedName, dataKey string) ([]byte, *translate.Warning)
}

var _ Backends = (*translate.Resolver)(nil)

// Output is what to add to the snapshot and the statuses to write.
type Output struct {
	// Gateways are sorted by Name.
	Gateways []snapshot.Gateway
	// Upstreams are those the Gateways' routes use, sorted by Name; an
	// upstream of the same Name in the Ingress translation is the same.
	Upstreams []snapshot.Upstream
	// Classes are our GatewayClasses, sorted by name.
	Classes []ClassResult
	// GatewayStatuses are those of the Gateways of our classes, sorted.
	GatewayStatuses []GatewayResult
	// HTTPRoutes and GRPCRoutes are the routes with a parentRef to one of
	// our Gateways, sorted; Parents holds our entries only.
	HTTPRoutes []RouteResult
	GRPCRoutes []RouteResult
	// BackendTLSPolicies are the policies applied to a backend of a route
	// attached to one of our Gateways, sorted; Ancestors holds our entries
	// only, one per such Gateway.
	BackendTLSPolicies []PolicyResult
}

// Empty reports whether o has nothing at all: no Gateway, upstream or
// status of ours.
func (o *Output) Empty() bool {
	return len(o.Gateways)+len(o.Upstreams)+len(o.Classes)+len(o.GatewayStatuses)+
		len(o.HTTPRoutes)+len(o.GRPCRoutes)+len(o.BackendTLSPolicies) == 0
}

// PolicyResult is our part of one BackendTLSPolicy's status.
type PolicyResult struct {
	Key       types.NamespacedName
	Ancestors []gatewayv1.PolicyAncestorStatus
}

// ClassResult is the status of one of our GatewayClasses.
type ClassResult struct {
	Name   string
	Status gatewayv1.GatewayClassStatus
}

// GatewayResult is the status of one Gateway of our classes.
type GatewayResult struct {
	Key    types.NamespacedName
	Status gatewayv1.GatewayStatus
}

// RouteResult is our part of one route's status: one entry per parentRef
// naming one of our Gateways.
type RouteResult struct {
	Key     types.NamespacedName
	Parents []gatewayv1.RouteParentStatus
}
