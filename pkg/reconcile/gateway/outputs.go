package gateway

import (
	"cmp"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// outputs is a translation's result kept per route and per Gateway, so
// that a change recomputes only the routes it touches and the Gateways
// they name (see translator.run). Translate starts from empty outputs;
// a Cache keeps them between calls.
type outputs struct {
	routes map[routeID]*routeState
	// byGateway are the routes whose parentRefs name each of our Gateways.
	byGateway map[types.NamespacedName]map[routeID]struct{}
	gateways  map[types.NamespacedName]gatewayOutput
	// attached are what the routes attached to each Gateway.
	attached  map[types.NamespacedName]*attached
	upstreams map[string]*upstreamUse
	// withPolicies are the routes that applied a BackendTLSPolicy.
	withPolicies map[routeID]struct{}
	// last is the last Output: its slices are shared with the caller and
	// never written again; the next Output is a patched copy.
	last  Output
	epoch uint64
	// newGateways says this call's Gateways are new: the routes' parents
	// must be resolved again.
	newGateways bool
	// regateways are the Gateways that are new (or gone) in this call
	// while the others are kept: the routes naming them must resolve
	// their parents again.
	regateways map[types.NamespacedName]bool
}

// routeState is one route's translation and its part of the output.
type routeState struct {
	id   routeID
	rt   *routeTranslation
	gws  []types.NamespacedName
	seen uint64
	// result is its status; accepted the Gateways it attached to.
	result   RouteResult
	accepted []types.NamespacedName
}

// gatewayOutput is one Gateway's status, and its snapshot when Programmed.
type gatewayOutput struct {
	result GatewayResult
	snap   *snapshot.Gateway
}

// upstreamUse is an upstream and how many routes name it (an upstream of
// one name has one content within a call).
type upstreamUse struct {
	up   snapshot.Upstream
	uses int
}

func newOutputs() *outputs {
	return &outputs{routes: map[routeID]*routeState{}, byGateway: map[types.NamespacedName]map[routeID]struct{}{},
		gateways: map[types.NamespacedName]gatewayOutput{}, attached: map[types.NamespacedName]*attached{}, upstreams: map[string]*upstreamUse{},
		withPolicies: map[routeID]struct{}{}}
}

// changes are what one call touched: the routes whose translation or
// status must be redone, the Gateways whose attachments must, and the
// upstreams whose use changed.
type changes struct {
	routes    map[routeID]bool
	gateways  map[types.NamespacedName]bool
	upstreams map[string]bool
}

func newChanges() *changes {
	return &changes{routes: map[routeID]bool{}, gateways: map[types.NamespacedName]bool{}, upstreams: map[string]bool{}}
}

// namesRegateway reports whether refs name a Gateway of regateways.
func (o *outputs) namesRegateway(refs []gatewayv1.ParentReference, ns string) bool {
	for i := range refs {
		if o.regateways[parentKey(&refs[i], ns)] {
			return true
		}
	}
	return false
}

// set records rt as route id's translation, naming gws.
func (o *outputs) set(id routeID, rt *routeTranslation, gws []types.NamespacedName, ch *changes) {
	// The new uses first: an upstream the route keeps using is then
	// never counted out, and the Output's list of upstreams is not
	// patched for it.
	for _, u := range rt.uses {
		o.use(u, 1, ch)
	}
	o.remove(id, ch)
	st := &routeState{id: id, rt: rt, gws: gws, seen: o.epoch}
	o.routes[id] = st
	for _, g := range gws {
		if o.byGateway[g] == nil {
			o.byGateway[g] = map[routeID]struct{}{}
		}
		o.byGateway[g][id] = struct{}{}
		ch.gateways[g] = true
	}
	if len(rt.policies) > 0 {
		o.withPolicies[id] = struct{}{}
	}
	ch.routes[id] = true
}

// remove forgets route id, if known.
func (o *outputs) remove(id routeID, ch *changes) {
	st := o.routes[id]
	if st == nil {
		return
	}
	for _, g := range st.gws {
		delete(o.byGateway[g], id)
		ch.gateways[g] = true
	}
	for _, u := range st.rt.uses {
		o.use(u, -1, ch)
	}
	delete(o.routes, id)
	delete(o.withPolicies, id)
	ch.routes[id] = true
}

// use counts n more (or fewer) routes naming u; the list changes only
// when u is new, gone or different.
func (o *outputs) use(u snapshot.Upstream, n int, ch *changes) {
	e := o.upstreams[u.Name]
	switch {
	case e == nil:
		e = &upstreamUse{up: u}
		o.upstreams[u.Name] = e
		ch.upstreams[u.Name] = true
	case n > 0 && !ch.upstreams[u.Name] && !reflect.DeepEqual(e.up, u):
		e.up = u
		ch.upstreams[u.Name] = true
	case n > 0:
		e.up = u
	}
	e.uses += n
	if e.uses == 0 {
		delete(o.upstreams, u.Name)
		ch.upstreams[u.Name] = true
	}
}

// removeUnseen forgets the routes this call did not see: deleted, or no
// longer naming one of our Gateways.
func (o *outputs) removeUnseen(ch *changes) {
	for id, st := range o.routes {
		if st.seen != o.epoch {
			o.remove(id, ch)
		}
	}
}

// routesOf are the routes naming Gateway g, HTTPRoutes first, each kind
// oldest first: the order in which they are numbered.
func (o *outputs) routesOf(g types.NamespacedName) []*routeState {
	out := make([]*routeState, 0, len(o.byGateway[g]))
	for id := range o.byGateway[g] {
		out = append(out, o.routes[id])
	}
	slices.SortFunc(out, compareRoutes)
	return out
}

func compareRoutes(a, b *routeState) int {
	return cmp.Or(kindRank(a.id.kind)-kindRank(b.id.kind), byAge(a.rt.obj, b.rt.obj))
}

func kindRank(kind string) int {
	if kind == "HTTPRoute" {
		return 0
	}
	return 1
}

// patched returns s, sorted by key, with the entries of keys replaced by
// get's (removed when it has none), in a new slice: s is never written.
// With many keys, it merges the sorted keys into s in one pass instead
// of searching and moving s once per key.
func patched[T any, K comparable](s []T, keys map[K]bool, key func(T) K, compare func(a, b K) int,
	get func(K) (T, bool)) []T {
	if len(keys) == 0 {
		return s
	}
	if len(keys) > len(s)/8+8 {
		return merged(s, keys, key, compare, get)
	}
	out := slices.Clone(s)
	for k := range keys {
		v, ok := get(k)
		out = putSorted(out, k, key, compare, v, ok)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// putSorted replaces the entry of key k in s (sorted by key) with v,
// inserts v, or removes the entry when ok is false; s is written in place.
func putSorted[T, K any](s []T, k K, key func(T) K, compare func(a, b K) int, v T, ok bool) []T {
	i, found := slices.BinarySearchFunc(s, k, func(e T, k K) int { return compare(key(e), k) })
	switch {
	case found && ok:
		s[i] = v
	case found:
		s = slices.Delete(s, i, i+1)
	case ok:
		s = slices.Insert(s, i, v)
	}
	return s
}

// merged is patched in one pass over s and the sorted keys.
func merged[T any, K comparable](s []T, keys map[K]bool, key func(T) K, compare func(a, b K) int, get func(K) (T, bool)) []T {
	ks := make([]K, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, compare)
	out := make([]T, 0, len(s)+len(ks))
	i := 0
	for _, k := range ks {
		for i < len(s) && compare(key(s[i]), k) < 0 {
			out = append(out, s[i])
			i++
		}
		if i < len(s) && compare(key(s[i]), k) == 0 {
			i++ // replaced, or removed
		}
		if v, ok := get(k); ok {
			out = append(out, v)
		}
	}
	out = append(out, s[i:]...)
	if len(out) == 0 {
		return nil
	}
	return out
}
