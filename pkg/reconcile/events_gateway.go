package reconcile

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// gatewayWarnings are the problems the Gateway API statuses of out show,
// as warnings for Events: users watch `kubectl get events` (and alerts on
// Warning Events) for Gateways and routes as they do for Ingresses. Only
// causes are reported, not their consequences (a listener that is not
// Accepted is not also reported as not Programmed), so one problem is one
// Event. Messages carry no generation or time, so a rebuild that finds
// the same problem finds the same warning, and warningEvents stays quiet.
func gatewayWarnings(out *gateway.Output) []warningKey {
	if out == nil {
		return nil
	}
	var ws []warningKey
	for _, r := range out.GatewayStatuses {
		ws = append(ws, gatewayStatusWarnings(r.Key, &r.Status)...)
	}
	for _, r := range out.HTTPRoutes {
		ws = append(ws, routeWarnings(kindHTTPRoute, r)...)
	}
	for _, r := range out.GRPCRoutes {
		ws = append(ws, routeWarnings(kindGRPCRoute, r)...)
	}
	return ws
}

// gatewayStatusWarnings: Accepted False, else Programmed False, and each
// listener's Accepted False, ResolvedRefs False and Conflicted True.
func gatewayStatusWarnings(key types.NamespacedName, st *gatewayv1.GatewayStatus) []warningKey {
	var ws []warningKey
	add := func(c *metav1.Condition, prefix string) {
		ws = append(ws, warningKey{kindGateway, key, c.Reason, prefix + c.Message})
	}
	if c := falseCondition(st.Conditions, string(gatewayv1.GatewayConditionAccepted)); c != nil {
		add(c, "")
	} else if c := falseCondition(st.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil {
		add(c, "")
	}
	for _, l := range st.Listeners {
		prefix := "listener " + string(l.Name) + ": "
		for _, typ := range []gatewayv1.ListenerConditionType{gatewayv1.ListenerConditionAccepted, gatewayv1.ListenerConditionResolvedRefs} {
			if c := falseCondition(l.Conditions, string(typ)); c != nil {
				add(c, prefix)
			}
		}
		if c := meta.FindStatusCondition(l.Conditions, string(gatewayv1.ListenerConditionConflicted)); c != nil && c.Status == metav1.ConditionTrue {
			add(c, prefix)
		}
	}
	return ws
}

// routeWarnings: per parent, Accepted False (naming the Gateway, since it
// is that Gateway's verdict) and ResolvedRefs False (the same for every
// parent, so reported once).
func routeWarnings(kind objectKind, r gateway.RouteResult) []warningKey {
	var ws []warningKey
	for _, p := range r.Parents {
		if c := falseCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted)); c != nil {
			ws = append(ws, warningKey{kind, r.Key, c.Reason, "parent " + parentName(r.Key, p.ParentRef) + ": " + c.Message})
		}
		if c := falseCondition(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs)); c != nil {
			ws = append(ws, warningKey{kind, r.Key, c.Reason, c.Message})
		}
	}
	return ws
}

func falseCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil || c.Status != metav1.ConditionFalse {
		return nil
	}
	return c
}

// parentName names a parentRef for a message: "namespace/name", and the
// listener when the ref names one.
func parentName(route types.NamespacedName, ref gatewayv1.ParentReference) string {
	ns := route.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	name := ns + "/" + string(ref.Name)
	if ref.SectionName != nil {
		name += " listener " + string(*ref.SectionName)
	}
	return name
}

// gatewayObject is an empty object of the kind a Gateway API warning is
// about, for reading its UID; nil for other kinds.
func gatewayObject(kind objectKind) client.Object {
	switch kind {
	case kindGateway:
		return &gatewayv1.Gateway{}
	case kindHTTPRoute:
		return &gatewayv1.HTTPRoute{}
	case kindGRPCRoute:
		return &gatewayv1.GRPCRoute{}
	}
	return nil
}
