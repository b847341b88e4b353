package gateway

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// translator holds one translation's indexes and what it accumulates.
type translator struct {
	in       Input
	ctrl     gatewayv1.GatewayController
	backends *translate.Resolver
	grants   []*gatewayv1.ReferenceGrant
	policies map[policyTarget]*gatewayv1.BackendTLSPolicy
	// policyByKey finds the policies routes applied (see absorb).
	policyByKey map[types.NamespacedName]*gatewayv1.BackendTLSPolicy
	// policyLost are the policies that lost a target to older ones.
	policyLost map[*gatewayv1.BackendTLSPolicy][]*gatewayv1.BackendTLSPolicy
	namespaces map[string]labels.Set
	configMaps map[types.NamespacedName]*corev1.ConfigMap
	// gateways are those of our accepted classes, by key.
	gateways map[types.NamespacedName]*gateway
	// policyUse lists the routes each BackendTLSPolicy served a backend
	// of, and policyProblem the first problem with its CA references.
	policyUse     map[*gatewayv1.BackendTLSPolicy][]*routeTranslation
	policyProblem map[*gatewayv1.BackendTLSPolicy]*problem
	// used are the upstreams the emitted routes name.
	used map[string]snapshot.Upstream
	// order numbers routes in the spec's tie-break order: oldest route,
	// then namespace/name, then rule and match index.
	order int
	// memo, when a Cache translates, holds the routes it can reuse.
	memo *routeMemo
}

// Translate builds the Gateways of the snapshot and every status.
func Translate(in Input) Output {
	return newTranslator(in).run()
}

func (t *translator) run() Output {
	in := t.in
	var out Output
	classes := t.classes(&out)
	t.addGateways(classes)
	out.HTTPRoutes = t.attachAll(httpRoutes(t, in.HTTPRoutes))
	out.GRPCRoutes = t.attachAll(grpcRoutes(t, in.GRPCRoutes))
	out.Gateways, out.GatewayStatuses = t.assemble()
	out.BackendTLSPolicies = t.policyResults()
	out.Upstreams = sortedUpstreams(t.used)
	return out
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
		used:       map[string]snapshot.Upstream{},

		policyUse:     map[*gatewayv1.BackendTLSPolicy][]*routeTranslation{},
		policyProblem: map[*gatewayv1.BackendTLSPolicy]*problem{},
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

// absorb takes rt's part in this translation: its routes numbered after
// those before it, its upstreams and policies. It returns the copy attach
// fills in, so that a Cache's rt stays as translated.
func (t *translator) absorb(rt *routeTranslation) *routeTranslation {
	cp := *rt
	cp.accepted = nil
	cp.routes = rt.numbered(t.order)
	t.order += rt.orders
	for _, u := range rt.uses {
		t.use(u)
	}
	for _, pu := range rt.policies {
		p := t.policyByKey[pu.key]
		t.policyUse[p] = append(t.policyUse[p], &cp)
		if pu.problem != nil && t.policyProblem[p] == nil {
			t.policyProblem[p] = pu.problem
		}
	}
	return &cp
}

func (t *translator) use(u snapshot.Upstream) {
	if _, ok := t.used[u.Name]; !ok {
		t.used[u.Name] = u
	}
}

// sortedUpstreams sorts the names, not the upstreams: moving large
// structs is most of the cost of sorting thousands of them.
func sortedUpstreams(m map[string]snapshot.Upstream) []snapshot.Upstream {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]snapshot.Upstream, len(names))
	for i, name := range names {
		out[i] = m[name]
	}
	return out
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
