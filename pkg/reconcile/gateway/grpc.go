package gateway

import (
	"regexp"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func grpcRoutes(t *translator, o *outputs, ch *changes, items []*gatewayv1.GRPCRoute) {
	translateRoutes(t, o, ch, items, "GRPCRoute", func(r *gatewayv1.GRPCRoute) routeSpec[gatewayv1.GRPCRouteRule] {
		return routeSpec[gatewayv1.GRPCRouteRule]{r.Spec.ParentRefs, r.Spec.Hostnames, r.Spec.Rules}
	}, t.grpcRule)
}

// grpcRule routes a gRPC rule as HTTP routes on /service/method, to
// backends spoken to over HTTP/2.
func (t *translator) grpcRule(rt *routeTranslation, rule *gatewayv1.GRPCRouteRule) ([]snapshot.Route, *problem) {
	base := snapshot.Route{Source: rt.key.String()}
	var p *problem
	if base.Filters, p = t.filters(rt, grpcFilters(rule.Filters)); p != nil {
		return nil, p
	}
	refs, p := plainRefs(rule.BackendRefs, func(b gatewayv1.GRPCBackendRef) (gatewayv1.BackendRef, int) { return b.BackendRef, len(b.Filters) })
	if p != nil {
		return nil, p
	}
	t.target(rt, &base, refs, true)
	return perMatch(t, rt, base, rule.Matches, grpcMatch)
}

// grpcFilters are the HTTPRoute filters of the same names and shapes.
func grpcFilters(fs []gatewayv1.GRPCRouteFilter) []gatewayv1.HTTPRouteFilter {
	out := make([]gatewayv1.HTTPRouteFilter, 0, len(fs))
	for _, f := range fs {
		out = append(out, gatewayv1.HTTPRouteFilter{
			Type:                   gatewayv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		})
	}
	return out
}

// grpcMatch maps a method match to a path: service and method exactly to
// an Exact path, a service alone to a Prefix, anything else to a regular
// expression over "/service/method".
func grpcMatch(r *snapshot.Route, m *gatewayv1.GRPCRouteMatch) *problem {
	r.PathType, r.Path = snapshot.PathPrefix, "/"
	if mm := m.Method; mm != nil {
		grpcMethod(r, mm)
	}
	for _, h := range m.Headers {
		regex := h.Type != nil && *h.Type == gatewayv1.GRPCHeaderMatchRegularExpression
		if !hasHeader(r.Headers, string(h.Name)) {
			r.Headers = append(r.Headers, snapshot.HeaderMatch{Name: string(h.Name), Value: h.Value, Regex: regex})
		}
	}
	return nil
}

func grpcMethod(r *snapshot.Route, mm *gatewayv1.GRPCMethodMatch) {
	service, method := "", ""
	if mm.Service != nil {
		service = *mm.Service
	}
	if mm.Method != nil {
		method = *mm.Method
	}
	regex := mm.Type != nil && *mm.Type == gatewayv1.GRPCMethodMatchRegularExpression
	switch {
	case !regex && service != "" && method != "":
		r.PathType, r.Path = snapshot.PathExact, "/"+service+"/"+method
	case !regex && service != "":
		r.PathType, r.Path = snapshot.PathPrefix, "/"+service
	case !regex:
		r.PathType, r.Path = snapshot.PathRegularExpression, "/[^/]+/"+regexp.QuoteMeta(method)
	default:
		r.PathType, r.Path = snapshot.PathRegularExpression, "/"+orAny(service)+"/"+orAny(method)
	}
}

func orAny(expr string) string {
	if expr == "" {
		return "[^/]+"
	}
	return "(?:" + expr + ")"
}
