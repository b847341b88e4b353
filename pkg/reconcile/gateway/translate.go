package gateway

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// translator holds one translation's indexes and what it accumulates.
type translator struct {
	in       Input
	ctrl     gatewayv1.GatewayController
	backends Backends
	grants   []*gatewayv1.ReferenceGrant
	policies map[policyTarget]*gatewayv1.BackendTLSPolicy
	// policyByKey finds the policies routes applied (see absorb).
	policyByKey map[types.NamespacedName]*gatewayv1.BackendTLSPolicy
	// policyProblem is the first problem with each policy's CA references.
	policyProblem map[*gatewayv1.BackendTLSPolicy]*problem
	// policyLost are the policies that lost a target to older ones.
	policyLost map[*gatewayv1.BackendTLSPolicy][]*gatewayv1.BackendTLSPolicy
	namespaces map[string]labels.Set
	configMaps map[types.NamespacedName]*corev1.ConfigMap
	// gateways are those of our accepted classes, by key.
	gateways map[types.NamespacedName]*gateway
	// memo, when a Cache translates, holds the routes it can reuse.
	memo *routeMemo
}

// Translate builds the Gateways of the snapshot and every status.
func Translate(in Input) Output {
	return newTranslator(in).run(newOutputs(), true, nil, batchOf(&in))
}

func newTranslator(in Input) *translator {
	if in.ControllerName == "" {
		in.ControllerName = ControllerName
	}
	if in.Backends == nil {
		in.Backends = translate.NewResolver(translate.Input{})
	}
	t := &translator{
		in: in, ctrl: in.ControllerName, backends: in.Backends,
		namespaces: map[string]labels.Set{},
		configMaps: map[types.NamespacedName]*corev1.ConfigMap{},
		gateways:   map[types.NamespacedName]*gateway{},
	}
	for i := range in.Namespaces {
		t.namespaces[in.Namespaces[i].Name] = in.Namespaces[i].Labels
	}
	for i := range in.ConfigMaps {
		t.configMaps[keyOf(&in.ConfigMaps[i])] = &in.ConfigMaps[i]
	}
	for i := range in.ReferenceGrants {
		t.grants = append(t.grants, &in.ReferenceGrants[i])
	}
	t.policies, t.policyLost = indexPolicies(in.BackendTLSPolicies)
	t.policyByKey = make(map[types.NamespacedName]*gatewayv1.BackendTLSPolicy, len(in.BackendTLSPolicies))
	for i := range in.BackendTLSPolicies {
		t.policyByKey[keyOf(&in.BackendTLSPolicies[i])] = &in.BackendTLSPolicies[i]
	}
	return t
}

func keyOf(obj metav1.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// byAge orders objects oldest first, then by namespace/name: the order in
// which the spec resolves conflicts between them.
func byAge(a, b metav1.Object) int {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	return cmp.Or(ta.Compare(tb.Time), cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
}

// sortedByAge returns pointers to items, oldest first.
func sortedByAge[T any, P interface {
	*T
	metav1.Object
}](items []T) []P {
	ps := make([]P, len(items))
	for i := range items {
		ps[i] = P(&items[i])
	}
	slices.SortStableFunc(ps, func(a, b P) int { return byAge(a, b) })
	return ps
}
