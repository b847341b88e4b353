package gateway

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// policyResults reports on each BackendTLSPolicy that served a backend of
// a route attached to one of our Gateways, once per such Gateway (the
// spec's ancestor). A policy whose CA references all fail is not
// Accepted (NoValidCACertificate): its backends fail closed. A policy that
// served nothing because an older one took its target is not Accepted
// (Conflicted) on the Gateways of the one that did.
func (t *translator) policyResults(o *outputs) []PolicyResult {
	t.policyProblem = map[*gatewayv1.BackendTLSPolicy]*problem{}
	gateways := map[*gatewayv1.BackendTLSPolicy][]types.NamespacedName{}
	used := map[*gatewayv1.BackendTLSPolicy]bool{}
	for _, st := range o.policyUsers() {
		for _, pu := range st.rt.policies {
			p := t.policyByKey[pu.key]
			used[p] = true
			gateways[p] = appendNew(gateways[p], st.accepted...)
			if pu.problem != nil && t.policyProblem[p] == nil {
				t.policyProblem[p] = pu.problem
			}
		}
	}
	var out []PolicyResult
	for p := range used {
		gws := gateways[p]
		out = append(out, t.policyResult(p, gws, t.policyConditions(p)))
	}
	for p, winners := range t.policyLost {
		if used[p] {
			continue
		}
		var gws []types.NamespacedName
		for _, w := range winners {
			gws = appendNew(gws, gateways[w]...)
		}
		conflicted := problemf(gatewayv1.PolicyReasonConflicted, "an older BackendTLSPolicy, %s, targets the same backend", winners[0].Name)
		out = append(out, t.policyResult(p, gws, []metav1.Condition{
			verdict(gatewayv1.PolicyConditionAccepted, conflicted, "", "", p.Generation), t.policyConditions(p)[1]}))
	}
	out = slices.DeleteFunc(out, func(r PolicyResult) bool { return len(r.Ancestors) == 0 })
	slices.SortFunc(out, func(a, b PolicyResult) int { return compareKeys(a.Key, b.Key) })
	return out
}

// policyResult is p's status on each of gws, with the same conditions.
func (t *translator) policyResult(p *gatewayv1.BackendTLSPolicy, gws []types.NamespacedName, conds []metav1.Condition) PolicyResult {
	slices.SortFunc(gws, compareKeys)
	res := PolicyResult{Key: keyOf(p)}
	for _, g := range gws {
		res.Ancestors = append(res.Ancestors, gatewayv1.PolicyAncestorStatus{
			AncestorRef:    gatewayv1.ParentReference{Group: ptrTo(gatewayv1.Group(Group)), Kind: ptrTo(gatewayv1.Kind("Gateway")), Namespace: ptrTo(gatewayv1.Namespace(g.Namespace)), Name: gatewayv1.ObjectName(g.Name)},
			ControllerName: t.ctrl,
			Conditions:     conds,
		})
	}
	return res
}

// policyUsers are the routes that applied a policy, in the order in which
// the first problem with a policy's CA references is reported.
func (o *outputs) policyUsers() []*routeState {
	out := make([]*routeState, 0, len(o.withPolicies))
	for id := range o.withPolicies {
		out = append(out, o.routes[id])
	}
	slices.SortFunc(out, compareRoutes)
	return out
}

func appendNew(have []types.NamespacedName, more ...types.NamespacedName) []types.NamespacedName {
	for _, k := range more {
		if !slices.Contains(have, k) {
			have = append(have, k)
		}
	}
	return have
}

func (t *translator) policyConditions(p *gatewayv1.BackendTLSPolicy) []metav1.Condition {
	refs := t.policyProblem[p]
	var accepted *problem
	if refs != nil && len(p.Spec.Validation.CACertificateRefs) > 0 && !t.anyCA(p) {
		accepted = problemf(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate, "no caCertificateRef holds a usable CA: %s", refs.message)
	}
	return []metav1.Condition{
		verdict(gatewayv1.PolicyConditionAccepted, accepted, string(gatewayv1.PolicyReasonAccepted), "the policy applies", p.Generation),
		verdict(gatewayv1.BackendTLSPolicyConditionResolvedRefs, refs, string(gatewayv1.BackendTLSPolicyReasonResolvedRefs),
			"every CA reference resolved", p.Generation),
	}
}

// anyCA reports whether one of p's CA references loads.
func (t *translator) anyCA(p *gatewayv1.BackendTLSPolicy) bool {
	for _, ref := range p.Spec.Validation.CACertificateRefs {
		if ca, _ := t.caOf(p.Namespace, ref); ca != nil {
			return true
		}
	}
	return false
}

func compareKeys(a, b types.NamespacedName) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func ptrTo[T any](v T) *T { return &v }
