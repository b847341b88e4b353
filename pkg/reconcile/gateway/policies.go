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
// Accepted (NoValidCACertificate): its backends fail closed.
func (t *translator) policyResults() []PolicyResult {
	var out []PolicyResult
	for p, rts := range t.policyUse {
		var gws []types.NamespacedName
		for _, rt := range rts {
			for _, g := range rt.accepted {
				if !slices.Contains(gws, g) {
					gws = append(gws, g)
				}
			}
		}
		if len(gws) == 0 {
			continue
		}
		slices.SortFunc(gws, compareKeys)
		res := PolicyResult{Key: keyOf(p)}
		for _, g := range gws {
			res.Ancestors = append(res.Ancestors, gatewayv1.PolicyAncestorStatus{
				AncestorRef:    gatewayv1.ParentReference{Group: ptrTo(gatewayv1.Group(Group)), Kind: ptrTo(gatewayv1.Kind("Gateway")), Namespace: ptrTo(gatewayv1.Namespace(g.Namespace)), Name: gatewayv1.ObjectName(g.Name)},
				ControllerName: t.ctrl,
				Conditions:     t.policyConditions(p),
			})
		}
		out = append(out, res)
	}
	slices.SortFunc(out, func(a, b PolicyResult) int { return compareKeys(a.Key, b.Key) })
	return out
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
