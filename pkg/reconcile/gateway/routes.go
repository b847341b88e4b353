package gateway

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// routeTranslation is one HTTPRoute or GRPCRoute translated, before it is
// attached to its parents.
type routeTranslation struct {
	obj       metav1.Object
	key       types.NamespacedName
	kind      string
	parents   []gatewayv1.ParentReference
	hostnames []string
	routes    []snapshot.Route
	// refs is the first reference problem (ResolvedRefs False).
	refs *problem
	// unsupported is the first rule dropped; allDropped says no rule
	// was left (Accepted False).
	unsupported *problem
	allDropped  bool
	// orders counts the order numbers the routes took (a rule dropped
	// after some of its matches were numbered keeps their numbers); the
	// Order of routes counts from 0 until the route is numbered among
	// those of a Gateway (see numbered).
	orders int
	// uses are the upstreams the routes name, policies the
	// BackendTLSPolicies applied to them, and deps the objects besides
	// the route its translation read: what a Cache needs to reuse it.
	uses     []snapshot.Upstream
	policies []policyUse
	deps     []dependency
}

// policyUse is a BackendTLSPolicy a route applied, and the first problem
// with its CA references.
type policyUse struct {
	key     types.NamespacedName
	problem *problem
}

func (rt *routeTranslation) use(u snapshot.Upstream) { rt.uses = append(rt.uses, u) }

func newRouteTranslation(obj metav1.Object, kind string, parents []gatewayv1.ParentReference, hostnames []gatewayv1.Hostname) *routeTranslation {
	rt := &routeTranslation{obj: obj, key: keyOf(obj), kind: kind, parents: parents}
	for _, h := range hostnames {
		rt.hostnames = append(rt.hostnames, strings.ToLower(string(h)))
	}
	return rt
}

func (rt *routeTranslation) refProblem(p *problem) {
	if rt.refs == nil {
		rt.refs = p
	}
}

// addRule keeps the routes of one rule, or records why it was dropped.
func (rt *routeTranslation) addRule(routes []snapshot.Route, p *problem) {
	if p != nil {
		if rt.unsupported == nil {
			rt.unsupported = p
		}
		return
	}
	rt.routes = append(rt.routes, routes...)
}

// finish marks a route whose every rule was dropped.
func (rt *routeTranslation) finish(rules int) *routeTranslation {
	rt.allDropped = rules > 0 && len(rt.routes) == 0 && rt.unsupported != nil
	return rt
}

// routeSpec is what every route kind has: parents, hostnames and rules.
type routeSpec[Rule any] struct {
	parents   []gatewayv1.ParentReference
	hostnames []gatewayv1.Hostname
	rules     []Rule
}

// translateRoutes records in o the translation of each route of one kind
// that names our Gateways, each rule by translateRule; a Cache's
// translation is reused while neither the route nor what it read changed.
func translateRoutes[T any, P interface {
	*T
	metav1.Object
}, Rule any](t *translator, o *outputs, ch *changes, items []P, kind string, specOf func(P) routeSpec[Rule],
	translateRule func(*routeTranslation, *Rule) ([]snapshot.Route, *problem)) {
	for _, r := range items {
		spec := specOf(r)
		id := routeID{kind, keyOf(r)}
		rt := t.memo.reuse(kind, r, spec.parents)
		st := o.routes[id]
		// The same version names the same Gateways unless they are new.
		if rt != nil && st != nil && st.rt == rt && !o.newGateways && !o.namesRegateway(spec.parents, r.GetNamespace()) {
			st.seen = o.epoch
			continue
		}
		gws := t.ourParents(spec.parents, r.GetNamespace())
		if len(gws) == 0 {
			o.remove(id, ch) // no longer ours, if it was
			continue
		}
		if rt != nil && st != nil && st.rt == rt && slices.Equal(st.gws, gws) {
			st.seen = o.epoch
			continue
		}
		if rt == nil {
			rt = newRouteTranslation(r, kind, spec.parents, spec.hostnames)
			for i := range spec.rules {
				rt.addRule(translateRule(rt, &spec.rules[i]))
			}
			t.memo.remember(rt.finish(len(spec.rules)))
		}
		o.set(id, rt, gws, ch)
	}
}

// numbered is rt's routes with their Order counted from base, a copy
// unless base is 0: rt may be a Cache's.
func (rt *routeTranslation) numbered(base int) []snapshot.Route {
	if base == 0 {
		return rt.routes
	}
	out := slices.Clone(rt.routes)
	for i := range out {
		out[i].Order += base
	}
	return out
}

func httpRoutes(t *translator, o *outputs, ch *changes, items []*gatewayv1.HTTPRoute) {
	translateRoutes(t, o, ch, items, "HTTPRoute", func(r *gatewayv1.HTTPRoute) routeSpec[gatewayv1.HTTPRouteRule] {
		return routeSpec[gatewayv1.HTTPRouteRule]{r.Spec.ParentRefs, r.Spec.Hostnames, r.Spec.Rules}
	}, t.httpRule)
}

// httpRule builds one route per match of rule, sharing its target,
// filters, timeouts and retry.
func (t *translator) httpRule(rt *routeTranslation, rule *gatewayv1.HTTPRouteRule) ([]snapshot.Route, *problem) {
	base := snapshot.Route{Source: rt.key.String()}
	var p *problem
	if base.Filters, p = t.filters(rt, rule.Filters); p != nil {
		return nil, p
	}
	refs, p := plainRefs(rule.BackendRefs, func(b gatewayv1.HTTPBackendRef) (gatewayv1.BackendRef, int) { return b.BackendRef, len(b.Filters) })
	if p != nil {
		return nil, p
	}
	if base.Filters == nil || base.Filters.Redirect == nil {
		t.target(rt, &base, refs, false)
	}
	if base.Timeouts, p = timeouts(rule.Timeouts); p != nil {
		return nil, p
	}
	if base.Retry, p = retry(rule.Retry); p != nil {
		return nil, p
	}
	return perMatch(t, rt, base, rule.Matches, httpMatch)
}

// plainRefs are a rule's backendRefs without their filters, which Baton
// does not support on a single backend.
func plainRefs[B any](bs []B, split func(B) (gatewayv1.BackendRef, int)) ([]gatewayv1.BackendRef, *problem) {
	refs := make([]gatewayv1.BackendRef, 0, len(bs))
	for _, b := range bs {
		ref, filters := split(b)
		if filters > 0 {
			return nil, problemf(gatewayv1.RouteReasonUnsupportedValue, "filters on a backendRef are not supported")
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// perMatch copies base once per match (one match-all when there is
// none), sets the match on each and checks it.
func perMatch[M any](t *translator, rt *routeTranslation, base snapshot.Route, matches []M, set func(*snapshot.Route, *M) *problem) ([]snapshot.Route, *problem) {
	if len(matches) == 0 {
		matches = make([]M, 1)
	}
	routes := make([]snapshot.Route, 0, len(matches))
	for i := range matches {
		r := base
		if p := set(&r, &matches[i]); p != nil {
			return nil, p
		}
		if p := t.finishRoute(&r); p != nil {
			return nil, p
		}
		r.Order = rt.orders
		rt.orders++
		routes = append(routes, r)
	}
	return routes, nil
}

// finishRoute numbers r and checks it with the data plane's validator.
func (t *translator) finishRoute(r *snapshot.Route) *problem {
	if err := checkRewrite(r); err != nil {
		return err
	}
	if err := snapshot.CheckRoute(r); err != nil {
		return problemf(gatewayv1.RouteReasonUnsupportedValue, "%s %q: %v", r.PathType, r.Path, err)
	}
	return nil
}

// checkRewrite refuses ReplacePrefixMatch on a route without a Prefix path.
func checkRewrite(r *snapshot.Route) *problem {
	f := r.Filters
	if f == nil || r.PathType == snapshot.PathPrefix {
		return nil
	}
	prefixOnly := func(m *snapshot.PathModifier) bool { return m != nil && m.Type == snapshot.ReplacePrefixMatch }
	if (f.Rewrite != nil && prefixOnly(f.Rewrite.Path)) || (f.Redirect != nil && prefixOnly(f.Redirect.Path)) {
		return problemf(gatewayv1.RouteReasonUnsupportedValue, "ReplacePrefixMatch needs a PathPrefix match")
	}
	return nil
}

// target points base at its backends. A rule without a usable backend
// answers 500: it names invalidBackend with weight 0; in a rule with some
// usable ones, an unusable backend's share answers 500 (Invalid).
func (t *translator) target(rt *routeTranslation, base *snapshot.Route, refs []gatewayv1.BackendRef, grpc bool) {
	var backends []snapshot.WeightedBackend
	valid := 0
	for i := range refs {
		weight := 1
		if w := refs[i].Weight; w != nil {
			weight = int(*w)
		}
		up, p := t.backend(rt, &refs[i].BackendObjectReference, grpc)
		if p != nil {
			rt.refProblem(p)
			backends = append(backends, snapshot.WeightedBackend{Invalid: true, Weight: weight})
			continue
		}
		valid++
		rt.use(up)
		backends = append(backends, snapshot.WeightedBackend{Upstream: up.Name, Weight: weight})
	}
	switch {
	case valid == 0:
		rt.use(invalidBackend)
		base.Backends = []snapshot.WeightedBackend{{Upstream: invalidBackend.Name, Weight: 0}}
	case len(backends) == 1 && backends[0].Weight > 0:
		base.Upstream = backends[0].Upstream
	default:
		base.Backends = backends
	}
}
