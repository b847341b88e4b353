package gateway

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// parentGateway is the Gateway a parentRef names, if it is one of ours.
func (t *translator) parentGateway(ref *gatewayv1.ParentReference, routeNS string) *gateway {
	if (ref.Group != nil && *ref.Group != Group) || (ref.Kind != nil && *ref.Kind != "Gateway") {
		return nil
	}
	return t.gateways[parentKey(ref, routeNS)]
}

// ourParents are the keys of our Gateways refs name, each once.
func (t *translator) ourParents(refs []gatewayv1.ParentReference, ns string) []types.NamespacedName {
	var out []types.NamespacedName
	for i := range refs {
		if gw := t.parentGateway(&refs[i], ns); gw != nil && !slices.Contains(out, gw.key) {
			out = append(out, gw.key)
		}
	}
	return out
}

// parentStatus is rt's status on gw through ref, and whether it attached.
func (t *translator) parentStatus(rt *routeTranslation, gw *gateway, ref *gatewayv1.ParentReference) (gatewayv1.RouteParentStatus, bool) {
	accepted, _ := t.attachments(rt, gw, ref)
	if accepted == nil && rt.allDropped {
		accepted = rt.unsupported
	}
	gen := rt.obj.GetGeneration()
	conds := []metav1.Condition{
		verdict(gatewayv1.RouteConditionAccepted, accepted, string(gatewayv1.RouteReasonAccepted), "the route is attached", gen),
		verdict(gatewayv1.RouteConditionResolvedRefs, rt.refs, string(gatewayv1.RouteReasonResolvedRefs), "every reference resolved", gen),
	}
	if rt.unsupported != nil && !rt.allDropped {
		conds = append(conds, condition(gatewayv1.RouteConditionPartiallyInvalid, true, rt.unsupported.reason,
			"rules were dropped: "+rt.unsupported.message, gen))
	}
	return gatewayv1.RouteParentStatus{ParentRef: *ref, ControllerName: t.ctrl, Conditions: conds}, accepted == nil
}

// attachment is a listener a route attaches to, and the hosts it serves
// the route's routes on there.
type attachment struct {
	l     *listener
	hosts []string
}

// attachments returns why rt cannot attach to gw through ref, or where it
// attaches: the listeners of gw that ref selects, allow it and share a
// hostname with it. It changes nothing, so that a route's status can be
// computed without attaching it again.
func (t *translator) attachments(rt *routeTranslation, gw *gateway, ref *gatewayv1.ParentReference) (*problem, []attachment) {
	var selected, allowed []*listener
	for _, l := range gw.listeners {
		if (ref.SectionName == nil || *ref.SectionName == l.spec.Name) && (ref.Port == nil || *ref.Port == l.spec.Port) {
			selected = append(selected, l)
		}
	}
	if len(selected) == 0 {
		return problemf(gatewayv1.RouteReasonNoMatchingParent, "Gateway %s has no listener the parentRef selects", gw.key), nil
	}
	for _, l := range selected {
		if t.allows(gw, l, rt) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return problemf(gatewayv1.RouteReasonNotAllowedByListeners, "no listener of Gateway %s allows this route", gw.key), nil
	}
	var to []attachment
	for _, l := range allowed {
		hosts := intersect(l.hostname, rt.hostnames)
		if len(hosts) == 0 || rt.allDropped {
			continue
		}
		to = append(to, attachment{l, hosts})
	}
	if len(to) == 0 && !rt.allDropped {
		return problemf(gatewayv1.RouteReasonNoMatchingListenerHostname, "no listener hostname matches the route's hostnames"), nil
	}
	return nil, to
}

// allows applies a listener's allowedRoutes to rt.
func (t *translator) allows(gw *gateway, l *listener, rt *routeTranslation) bool {
	if !slices.ContainsFunc(l.kinds, func(k gatewayv1.RouteGroupKind) bool { return string(k.Kind) == rt.kind }) {
		return false
	}
	from := gatewayv1.NamespacesFromSame
	var sel *metav1.LabelSelector
	if ar := l.spec.AllowedRoutes; ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			from = *ar.Namespaces.From
		}
		sel = ar.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		s, err := metav1.LabelSelectorAsSelector(sel)
		return err == nil && sel != nil && s.Matches(labels.Set(t.namespaces[rt.key.Namespace]))
	case gatewayv1.NamespacesFromSame:
		return rt.key.Namespace == gw.key.Namespace
	}
	return false
}

// intersect is the spec's hostname intersection of a listener and a
// route: the more specific of each matching pair. A wildcard matches any
// number of extra labels. "" (no hostname) matches everything.
func intersect(listener string, route []string) []string {
	if len(route) == 0 {
		return []string{listener}
	}
	var out []string
	for _, r := range route {
		h, ok := "", false
		switch {
		case listener == "":
			h, ok = r, true
		case covers(listener, r):
			h, ok = r, true
		case covers(r, listener):
			h, ok = listener, true
		}
		// The CRD pattern lets through labels the data plane refuses
		// (over 63 characters): such a host can never be served.
		if _, err := snapshot.NormaliseHost(h); err != nil && h != "" {
			ok = false
		}
		if ok && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// covers reports whether pattern (a name or wildcard) matches every name
// name matches.
func covers(pattern, name string) bool {
	if pattern == name {
		return true
	}
	suffix, wild := strings.CutPrefix(pattern, "*")
	return wild && strings.HasSuffix(name, suffix) && len(strings.TrimPrefix(name, "*")) > len(suffix)
}

// verdict is a condition True with okReason, or False with p.
func verdict[T ~string](typ T, p *problem, okReason, okMessage string, gen int64) metav1.Condition {
	if p != nil {
		return condition(typ, false, p.reason, p.message, gen)
	}
	return condition(typ, true, okReason, okMessage, gen)
}
