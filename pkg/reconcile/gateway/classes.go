package gateway

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// SupportedFeatures are the conformance features Baton claims, written to
// status.supportedFeatures of its GatewayClasses, sorted by name as the
// spec asks. Only standard-channel ones: HTTPRouteRetry is implemented
// (rules[].retry) but experimental, and the standard CRDs prune the field.
var SupportedFeatures = sortedFeatures(
	features.SupportGateway,
	features.SupportGatewayPort8080,
	features.SupportGatewayHTTPListenerIsolation,
	features.SupportGatewayStaticAddresses,
	features.SupportGatewayAddressEmpty,
	features.SupportHTTPRoute,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportHTTPRoute303RedirectStatusCode,
	features.SupportHTTPRoute307RedirectStatusCode,
	features.SupportHTTPRoute308RedirectStatusCode,
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRouteRequestMirror,
	features.SupportHTTPRouteRequestMultipleMirrors,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteBackendTimeout,
	features.SupportHTTPRouteBackendProtocolH2C,
	features.SupportHTTPRouteBackendProtocolWebSocket,
	features.SupportGRPCRoute,
	features.SupportGRPCRouteNamedRouteRule,
	features.SupportReferenceGrant,
	features.SupportBackendTLSPolicy,
)

func sortedFeatures(names ...features.FeatureName) []gatewayv1.SupportedFeature {
	out := make([]gatewayv1.SupportedFeature, 0, len(names))
	for _, n := range names {
		out = append(out, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(n)})
	}
	slices.SortFunc(out, func(a, b gatewayv1.SupportedFeature) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// classes reports on our GatewayClasses and returns the names of those
// accepted. A parametersRef is refused: Baton has no parameters kind.
func (t *translator) classes(out *Output) map[string]bool {
	accepted := map[string]bool{}
	for i := range t.in.GatewayClasses {
		gc := &t.in.GatewayClasses[i]
		if gc.Spec.ControllerName != t.ctrl {
			continue
		}
		c := condition(gatewayv1.GatewayClassConditionStatusAccepted, true,
			string(gatewayv1.GatewayClassReasonAccepted), "Baton serves the Gateways of this class", gc.Generation)
		if gc.Spec.ParametersRef != nil {
			c = condition(gatewayv1.GatewayClassConditionStatusAccepted, false,
				string(gatewayv1.GatewayClassReasonInvalidParameters), "Baton takes no parametersRef", gc.Generation)
		} else {
			accepted[gc.Name] = true
		}
		out.Classes = append(out.Classes, ClassResult{Name: gc.Name, Status: gatewayv1.GatewayClassStatus{
			Conditions: []metav1.Condition{c}, SupportedFeatures: SupportedFeatures}})
	}
	slices.SortFunc(out.Classes, func(a, b ClassResult) int { return cmp.Compare(a.Name, b.Name) })
	return accepted
}

// condition builds a condition with a zero lastTransitionTime.
func condition[T ~string](typ T, ok bool, reason, message string, gen int64) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: string(typ), Status: status, Reason: reason, Message: message, ObservedGeneration: gen}
}
