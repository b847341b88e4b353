package gateway

import (
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// httpMatch sets r's path, method, header and query matches. A header or
// query parameter named twice counts once, the first, as the spec asks.
func httpMatch(r *snapshot.Route, m *gatewayv1.HTTPRouteMatch) *problem {
	r.PathType, r.Path = snapshot.PathPrefix, "/"
	if pm := m.Path; pm != nil {
		if p := pathMatch(r, pm); p != nil {
			return p
		}
	}
	if m.Method != nil {
		r.Method = string(*m.Method)
	}
	for _, h := range m.Headers {
		regex := h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression
		if !hasHeader(r.Headers, string(h.Name)) {
			r.Headers = append(r.Headers, snapshot.HeaderMatch{Name: string(h.Name), Value: h.Value, Regex: regex})
		}
	}
	for _, q := range m.QueryParams {
		regex := q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression
		if !hasQuery(r.QueryParams, string(q.Name)) {
			r.QueryParams = append(r.QueryParams, snapshot.QueryMatch{Name: string(q.Name), Value: q.Value, Regex: regex})
		}
	}
	return nil
}

func pathMatch(r *snapshot.Route, pm *gatewayv1.HTTPPathMatch) *problem {
	if pm.Value != nil {
		r.Path = *pm.Value
	}
	kind := gatewayv1.PathMatchPathPrefix
	if pm.Type != nil {
		kind = *pm.Type
	}
	switch kind {
	case gatewayv1.PathMatchExact:
		r.PathType = snapshot.PathExact
	case gatewayv1.PathMatchRegularExpression:
		r.PathType = snapshot.PathRegularExpression
	case gatewayv1.PathMatchPathPrefix:
		// "/abc/" matches as "/abc" does: by path elements.
		if trimmed := strings.TrimRight(r.Path, "/"); trimmed != "" {
			r.Path = trimmed
		}
	default:
		return problemf(gatewayv1.RouteReasonUnsupportedValue, "path match type %s is not supported", kind)
	}
	return nil
}

func hasHeader(hs []snapshot.HeaderMatch, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func hasQuery(qs []snapshot.QueryMatch, name string) bool {
	for _, q := range qs {
		if q.Name == name {
			return true
		}
	}
	return false
}
