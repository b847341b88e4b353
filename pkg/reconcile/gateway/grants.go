package gateway

import (
	"slices"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// granted reports whether a ReferenceGrant in to's namespace lets objects
// of fromGroup/fromKind in fromNS refer to the toGroup/toKind object to.
func (t *translator) granted(fromGroup, fromKind, fromNS, toGroup, toKind string, to types.NamespacedName) bool {
	for _, g := range t.grants {
		if g.Namespace != to.Namespace {
			continue
		}
		from := slices.ContainsFunc(g.Spec.From, func(f gatewayv1.ReferenceGrantFrom) bool {
			return string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS
		})
		if from && slices.ContainsFunc(g.Spec.To, func(r gatewayv1.ReferenceGrantTo) bool {
			return string(r.Group) == toGroup && string(r.Kind) == toKind && (r.Name == nil || string(*r.Name) == to.Name)
		}) {
			return true
		}
	}
	return false
}

// policyTarget is a Service, or one port of it by name, a
// BackendTLSPolicy targets.
type policyTarget struct {
	service types.NamespacedName
	section string
}

// indexPolicies maps targets to policies; on a conflict the oldest
// policy wins, as the spec asks, and lost lists the winners each other
// policy lost a target to.
func indexPolicies(items []gatewayv1.BackendTLSPolicy) (m map[policyTarget]*gatewayv1.BackendTLSPolicy, lost map[*gatewayv1.BackendTLSPolicy][]*gatewayv1.BackendTLSPolicy) {
	m, lost = map[policyTarget]*gatewayv1.BackendTLSPolicy{}, map[*gatewayv1.BackendTLSPolicy][]*gatewayv1.BackendTLSPolicy{}
	for _, p := range sortedByAge(items) {
		for _, ref := range p.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != "Service" {
				continue
			}
			k := policyTarget{service: types.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}}
			if ref.SectionName != nil {
				k.section = string(*ref.SectionName)
			}
			if winner, taken := m[k]; !taken {
				m[k] = p
			} else if winner != p {
				lost[p] = append(lost[p], winner)
			}
		}
	}
	return m, lost
}

// policyFor finds the policy of a Service port: one naming the port
// first, then one for the whole Service.
func (t *translator) policyFor(svc types.NamespacedName, portName string) *gatewayv1.BackendTLSPolicy {
	if p := t.policies[policyTarget{service: svc, section: portName}]; p != nil && portName != "" {
		return p
	}
	return t.policies[policyTarget{service: svc}]
}
