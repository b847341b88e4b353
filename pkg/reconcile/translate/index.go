package translate

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// index finds the objects a reference names. Lookups are by namespace and
// name only, which is what keeps references inside their namespace.
type index struct {
	services  map[types.NamespacedName]*corev1.Service
	secrets   map[types.NamespacedName]*corev1.Secret
	upstreams map[types.NamespacedName]*v1alpha1.Upstream
	// slices are keyed by the Service they belong to.
	slices map[types.NamespacedName][]*discoveryv1.EndpointSlice
	// allowLoopback is Input.AllowLoopbackEndpoints, for every endpoint
	// address, static or from a slice.
	allowLoopback bool
}

func newIndex(in Input) *index {
	x := &index{
		services:  byKey(in.Services),
		secrets:   byKey(in.Secrets),
		upstreams: byKey(in.Upstreams),
		slices:    map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
	}
	x.allowLoopback = in.AllowLoopbackEndpoints
	for _, s := range sortedObjects(in.EndpointSlices) {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := types.NamespacedName{Namespace: s.Namespace, Name: svc}
		x.slices[k] = append(x.slices[k], s)
	}
	return x
}

// object is a pointer to a Kubernetes object type T.
type object[T any] interface {
	*T
	metav1.Object
}

// byKey maps objects by namespace/name. A cache never holds two objects
// with one key; if the input does anyway, the first in a total order wins,
// so the result still does not depend on input order.
func byKey[T any, P object[T]](items []T) map[types.NamespacedName]P {
	m := make(map[types.NamespacedName]P, len(items))
	for _, p := range sortedObjects[T, P](items) {
		k := keyOf(p)
		if _, dup := m[k]; !dup {
			m[k] = p
		}
	}
	return m
}

// sortedObjects returns pointers to items ordered by namespace, name, UID
// and resourceVersion, leaving items untouched.
func sortedObjects[T any, P object[T]](items []T) []P {
	ps := make([]P, len(items))
	for i := range items {
		ps[i] = P(&items[i])
	}
	slices.SortStableFunc(ps, func(a, b P) int { return compareObjects(a, b) })
	return ps
}

// compareObjects orders by namespace, name, UID and resourceVersion.
func compareObjects(a, b metav1.Object) int {
	return cmp.Or(
		cmp.Compare(a.GetNamespace(), b.GetNamespace()),
		cmp.Compare(a.GetName(), b.GetName()),
		cmp.Compare(a.GetUID(), b.GetUID()),
		cmp.Compare(a.GetResourceVersion(), b.GetResourceVersion()))
}

// compareAge orders by creationTimestamp, then namespace/name: the order
// in which Ingresses claim hosts and paths.
func compareAge(a, b metav1.Object) int {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	return cmp.Or(ta.Compare(tb.Time), compareObjects(a, b))
}
