package reconcile

import (
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// reportGatewayRejections puts each Gateway the data plane refused on its
// objects, as reportRejections does for Ingresses: the Gateway is not
// Programmed and its routes are not Accepted by it (reason
// RejectedByDataPlane), so both show why nothing is served and get a
// Warning Event.
func reportGatewayRejections(out *gateway.Output, rejected []rejection) {
	if out == nil {
		return
	}
	for _, r := range rejected {
		if r.part.kind != partGateway {
			continue
		}
		key := parseKey(r.part.name)
		msg := fmt.Sprintf("the data plane refused the %s, which is not served: %v", r.part, r.err)
		for i := range out.GatewayStatuses {
			if g := &out.GatewayStatuses[i]; g.Key == key {
				setFalse(&g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed), msg)
			}
		}
		for _, routes := range [][]gateway.RouteResult{out.HTTPRoutes, out.GRPCRoutes} {
			rejectRoutesOf(routes, r.part.name, msg)
		}
	}
}

// rejectRoutesOf turns Accepted False on the parent entries of routes that
// name the Gateway gw ("namespace/name").
func rejectRoutesOf(routes []gateway.RouteResult, gw, msg string) {
	for i := range routes {
		for j := range routes[i].Parents {
			p := &routes[i].Parents[j]
			if parentGateway(routes[i].Key.Namespace, p.ParentRef) == gw {
				setFalse(&p.Conditions, string(gatewayv1.RouteConditionAccepted), msg)
			}
		}
	}
}

// parentGateway is "namespace/name" of a parentRef to a Gateway, whose
// namespace defaults to the route's; "" for another kind of parent.
func parentGateway(routeNamespace string, ref gatewayv1.ParentReference) string {
	if ref.Kind != nil && *ref.Kind != "Gateway" {
		return ""
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns + "/" + string(ref.Name)
}
