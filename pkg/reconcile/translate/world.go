package translate

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// tracked is the Cache's own shallow copy of one object: keeping a pointer
// into the caller's list instead would keep every past list alive for as
// long as one of its objects does not change.
type tracked[T any] struct {
	obj   T
	epoch uint64 // the last call whose input held the object
}

// world is the Cache's copy of the objects of the last call, by key, and
// what changed since the call before.
type world struct {
	ingresses map[types.NamespacedName]*tracked[networkingv1.Ingress]
	services  map[types.NamespacedName]*tracked[corev1.Service]
	slices    map[types.NamespacedName]*tracked[discoveryv1.EndpointSlice]
	secrets   map[types.NamespacedName]*tracked[corev1.Secret]
	upstreams map[types.NamespacedName]*tracked[v1alpha1.Upstream]
	// slicesOf are the slices of each Service, by slice key.
	slicesOf map[types.NamespacedName]map[types.NamespacedName]*discoveryv1.EndpointSlice

	changed changes
}

// changes are the keys whose objects were added, changed or deleted.
type changes struct {
	ingresses, services, secrets, upstreams map[types.NamespacedName]bool
	// duplicate is set when an input list held one key twice, which no
	// informer cache does; the Cache then translates that input in full.
	duplicate bool
}

func newWorld() *world {
	return &world{
		ingresses: map[types.NamespacedName]*tracked[networkingv1.Ingress]{},
		services:  map[types.NamespacedName]*tracked[corev1.Service]{},
		slices:    map[types.NamespacedName]*tracked[discoveryv1.EndpointSlice]{},
		secrets:   map[types.NamespacedName]*tracked[corev1.Secret]{},
		upstreams: map[types.NamespacedName]*tracked[v1alpha1.Upstream]{},
		slicesOf:  map[types.NamespacedName]map[types.NamespacedName]*discoveryv1.EndpointSlice{},
	}
}

func newChanges() changes {
	return changes{ingresses: map[types.NamespacedName]bool{}, services: map[types.NamespacedName]bool{},
		secrets: map[types.NamespacedName]bool{}, upstreams: map[types.NamespacedName]bool{}}
}

// update takes in the objects of in and records what changed. An object
// is unchanged when its UID and resourceVersion are; one without a
// resourceVersion always counts as changed.
func (w *world) update(in *Input, epoch uint64) {
	w.changed = newChanges()
	ch := &w.changed
	ch.duplicate = diffObjects(in.Ingresses, w.ingresses, epoch, func(k types.NamespacedName, _ *networkingv1.Ingress) { ch.ingresses[k] = true }) ||
		diffObjects(in.Services, w.services, epoch, func(k types.NamespacedName, _ *corev1.Service) { ch.services[k] = true }) ||
		diffObjects(in.Secrets, w.secrets, epoch, func(k types.NamespacedName, _ *corev1.Secret) { ch.secrets[k] = true }) ||
		diffObjects(in.Upstreams, w.upstreams, epoch, func(k types.NamespacedName, _ *v1alpha1.Upstream) { ch.upstreams[k] = true }) ||
		diffObjects(in.EndpointSlices, w.slices, epoch, w.sliceChanged)
}

// sliceChanged files the slice k under its Service (old is the copy the
// world held, nil for a new slice) and marks the Services it left and
// joined as changed.
func (w *world) sliceChanged(k types.NamespacedName, old *discoveryv1.EndpointSlice) {
	if old != nil {
		svc := sliceService(old)
		delete(w.slicesOf[svc], k)
		if len(w.slicesOf[svc]) == 0 {
			delete(w.slicesOf, svc)
		}
		w.changed.services[svc] = true
	}
	t, ok := w.slices[k]
	if !ok {
		return
	}
	svc := sliceService(&t.obj)
	if w.slicesOf[svc] == nil {
		w.slicesOf[svc] = map[types.NamespacedName]*discoveryv1.EndpointSlice{}
	}
	w.slicesOf[svc][k] = &t.obj
	w.changed.services[svc] = true
}

func sliceService(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
}

// diffObjects brings have up to date with items, calling changed with the
// previous copy (nil if none) after each key whose object was added,
// changed or deleted. It reports whether items held a key twice.
func diffObjects[T any, P object[T]](items []T, have map[types.NamespacedName]*tracked[T], epoch uint64,
	changed func(types.NamespacedName, P)) bool {
	seen, duplicate := 0, false
	for i := range items {
		p := P(&items[i])
		k := keyOf(p)
		t, ok := have[k]
		switch {
		case !ok:
			have[k] = &tracked[T]{obj: items[i], epoch: epoch}
			changed(k, nil)
		case t.epoch == epoch:
			duplicate = true
			continue
		case sameVersion(P(&t.obj), p):
			t.epoch = epoch
		default:
			// A new copy: the old one may still be read through pointers
			// taken before.
			have[k] = &tracked[T]{obj: items[i], epoch: epoch}
			changed(k, P(&t.obj))
		}
		seen++
	}
	if seen == len(have) {
		return duplicate // nothing deleted: no need to walk the map
	}
	for k, t := range have {
		if t.epoch != epoch {
			delete(have, k)
			changed(k, P(&t.obj))
		}
	}
	return duplicate
}

func sameVersion[P object[T], T any](a, b P) bool {
	return a.GetResourceVersion() != "" && a.GetResourceVersion() == b.GetResourceVersion() && a.GetUID() == b.GetUID()
}

// index is the world as translate's lookups want it. The maps point at
// the world's copies; only the slice lists of changed Services are
// rebuilt.
func (w *world) index(x *index, allowLoopback bool) *index {
	if x == nil {
		x = &index{services: map[types.NamespacedName]*corev1.Service{}, secrets: map[types.NamespacedName]*corev1.Secret{},
			upstreams: map[types.NamespacedName]*v1alpha1.Upstream{}, slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{}}
	}
	x.allowLoopback = allowLoopback
	refresh(x.services, w.services, w.changed.services)
	refresh(x.secrets, w.secrets, w.changed.secrets)
	refresh(x.upstreams, w.upstreams, w.changed.upstreams)
	for svc := range w.changed.services {
		x.slices[svc] = w.sortedSlices(svc)
		if len(x.slices[svc]) == 0 {
			delete(x.slices, svc)
		}
	}
	return x
}

func refresh[T any](x map[types.NamespacedName]*T, have map[types.NamespacedName]*tracked[T], keys map[types.NamespacedName]bool) {
	for k := range keys {
		if t, ok := have[k]; ok {
			x[k] = &t.obj
		} else {
			delete(x, k)
		}
	}
}

// sortedSlices are svc's slices in newIndex's order.
func (w *world) sortedSlices(svc types.NamespacedName) []*discoveryv1.EndpointSlice {
	if svc.Name == "" {
		return nil // slices without the label are never used
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range w.slicesOf[svc] {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return compareObjects(a, b) })
	return out
}

// Changes are the objects added, changed or deleted since the Cache's
// last call, by key: the object as it is now, or nil when it was deleted.
// An object listed that did not change (same UID and resourceVersion) is
// ignored, so a caller may list too much.
type Changes struct {
	Ingresses      map[types.NamespacedName]*networkingv1.Ingress
	Services       map[types.NamespacedName]*corev1.Service
	EndpointSlices map[types.NamespacedName]*discoveryv1.EndpointSlice
	Secrets        map[types.NamespacedName]*corev1.Secret
	Upstreams      map[types.NamespacedName]*v1alpha1.Upstream
}

// apply takes in the objects of ch and records what changed.
func (w *world) apply(ch *Changes, epoch uint64) {
	w.changed = newChanges()
	c := &w.changed
	applyObjects(ch.Ingresses, w.ingresses, epoch, func(k types.NamespacedName, _ *networkingv1.Ingress) { c.ingresses[k] = true })
	applyObjects(ch.Services, w.services, epoch, func(k types.NamespacedName, _ *corev1.Service) { c.services[k] = true })
	applyObjects(ch.Secrets, w.secrets, epoch, func(k types.NamespacedName, _ *corev1.Secret) { c.secrets[k] = true })
	applyObjects(ch.Upstreams, w.upstreams, epoch, func(k types.NamespacedName, _ *v1alpha1.Upstream) { c.upstreams[k] = true })
	applyObjects(ch.EndpointSlices, w.slices, epoch, w.sliceChanged)
}

func applyObjects[T any, P object[T]](objs map[types.NamespacedName]P, have map[types.NamespacedName]*tracked[T], epoch uint64,
	changed func(types.NamespacedName, P)) {
	for k, p := range objs {
		t, ok := have[k]
		switch {
		case p == nil && !ok:
		case p == nil:
			delete(have, k)
			changed(k, P(&t.obj))
		case !ok:
			have[k] = &tracked[T]{obj: *p, epoch: epoch}
			changed(k, nil)
		case !sameVersion(P(&t.obj), p):
			have[k] = &tracked[T]{obj: *p, epoch: epoch}
			changed(k, P(&t.obj))
		}
	}
}

// upstreamList is every Upstream of the world, for translateUpstreams.
func (w *world) upstreamList() []v1alpha1.Upstream {
	out := make([]v1alpha1.Upstream, 0, len(w.upstreams))
	for _, t := range w.upstreams {
		out = append(out, t.obj)
	}
	return out
}
