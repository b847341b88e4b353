package gateway

import (
	"hash/maphash"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// Changes are the objects that changed since a Cache's last call, by key
// (the name alone for cluster-scoped kinds); nil means deleted. A
// controller fills them from the keys its informers saw change, so that
// a change costs what it touches, not what the cluster holds.
type Changes struct {
	GatewayClasses     map[types.NamespacedName]*gatewayv1.GatewayClass
	Gateways           map[types.NamespacedName]*gatewayv1.Gateway
	HTTPRoutes         map[types.NamespacedName]*gatewayv1.HTTPRoute
	GRPCRoutes         map[types.NamespacedName]*gatewayv1.GRPCRoute
	ReferenceGrants    map[types.NamespacedName]*gatewayv1.ReferenceGrant
	BackendTLSPolicies map[types.NamespacedName]*gatewayv1.BackendTLSPolicy
	Namespaces         map[types.NamespacedName]*corev1.Namespace
	ConfigMaps         map[types.NamespacedName]*corev1.ConfigMap
	Services           map[types.NamespacedName]*corev1.Service
	EndpointSlices     map[types.NamespacedName]*discoveryv1.EndpointSlice
	Secrets            map[types.NamespacedName]*corev1.Secret
	Upstreams          map[types.NamespacedName]*v1alpha1.Upstream
}

// store is a Cache's view of the objects, by key, with the versions of
// what routes read kept up to date as they change. It holds the objects
// it was given, never modifying them.
type store struct {
	classes    map[types.NamespacedName]*gatewayv1.GatewayClass
	gateways   map[types.NamespacedName]*gatewayv1.Gateway
	http       map[types.NamespacedName]*gatewayv1.HTTPRoute
	grpc       map[types.NamespacedName]*gatewayv1.GRPCRoute
	grants     map[types.NamespacedName]*gatewayv1.ReferenceGrant
	policies   map[types.NamespacedName]*gatewayv1.BackendTLSPolicy
	namespaces map[types.NamespacedName]*corev1.Namespace
	configMaps map[types.NamespacedName]*corev1.ConfigMap
	// naming are the routes whose parentRefs name each Gateway key,
	// ours or not: the routes a Gateway's change may attach or detach.
	naming   map[types.NamespacedName]map[routeID]struct{}
	backends *storeBackends
	versions versions
	// changes counts the grant and policy changes, their versions.
	changes uint64
}

func newStore(allowLoopback bool) *store {
	s := &store{classes: map[types.NamespacedName]*gatewayv1.GatewayClass{}, gateways: map[types.NamespacedName]*gatewayv1.Gateway{},
		http: map[types.NamespacedName]*gatewayv1.HTTPRoute{}, grpc: map[types.NamespacedName]*gatewayv1.GRPCRoute{},
		grants: map[types.NamespacedName]*gatewayv1.ReferenceGrant{}, policies: map[types.NamespacedName]*gatewayv1.BackendTLSPolicy{},
		namespaces: map[types.NamespacedName]*corev1.Namespace{}, configMaps: map[types.NamespacedName]*corev1.ConfigMap{},
		naming: map[types.NamespacedName]map[routeID]struct{}{}, backends: newStoreBackends(allowLoopback)}
	s.versions = versions{services: map[types.NamespacedName]version{}, configMaps: map[types.NamespacedName]version{},
		secrets: map[types.NamespacedName]version{}, backends: s.backends}
	return s
}

// delta is what one call's Changes touched, as the translation needs it.
type delta struct {
	// rest says something besides routes, Gateways and what routes read
	// changed: a GatewayClass, Namespace, grant, policy or listener Secret.
	rest bool
	// gateways are the Gateways that changed.
	gateways []types.NamespacedName
	// routes are the routes that changed; deps the objects routes read.
	routes []routeID
	deps   []dependency
}

// apply takes in ch and says what it touched.
func (s *store) apply(ch *Changes) delta {
	var d delta
	d.rest = len(ch.GatewayClasses)+len(ch.Namespaces)+len(ch.ReferenceGrants)+len(ch.BackendTLSPolicies) > 0
	setAll(s.classes, ch.GatewayClasses)
	for k, g := range ch.Gateways {
		set(s.gateways, k, g)
		d.gateways = append(d.gateways, k)
	}
	setAll(s.namespaces, ch.Namespaces)
	if len(ch.ReferenceGrants) > 0 {
		setAll(s.grants, ch.ReferenceGrants)
		s.changes++
		s.versions.grants = version{joined: "grants " + strconv.FormatUint(s.changes, 10)}
	}
	if len(ch.BackendTLSPolicies) > 0 {
		setAll(s.policies, ch.BackendTLSPolicies)
		s.changes++
		s.versions.policies = version{joined: "policies " + strconv.FormatUint(s.changes, 10)}
	}
	for k, r := range ch.HTTPRoutes {
		id := routeID{"HTTPRoute", k}
		s.indexParents(id, httpParents(s.http[k]), httpParents(r))
		set(s.http, k, r)
		d.routes = append(d.routes, id)
	}
	for k, r := range ch.GRPCRoutes {
		id := routeID{"GRPCRoute", k}
		s.indexParents(id, grpcParents(s.grpc[k]), grpcParents(r))
		set(s.grpc, k, r)
		d.routes = append(d.routes, id)
	}
	for k, cm := range ch.ConfigMaps {
		set(s.configMaps, k, cm)
		setVersion(s.versions.configMaps, k, cm)
		d.deps = append(d.deps, dependency{depConfigMap, k})
	}
	s.applyBackends(ch, &d)
	return d
}

// routeParents are a route's parentRefs and namespace.
type routeParents struct {
	ns   string
	refs []gatewayv1.ParentReference
}

func httpParents(r *gatewayv1.HTTPRoute) routeParents {
	if r == nil {
		return routeParents{}
	}
	return routeParents{r.Namespace, r.Spec.ParentRefs}
}

func grpcParents(r *gatewayv1.GRPCRoute) routeParents {
	if r == nil {
		return routeParents{}
	}
	return routeParents{r.Namespace, r.Spec.ParentRefs}
}

// indexParents files route id under the Gateways its new parentRefs name
// instead of those its old ones did.
func (s *store) indexParents(id routeID, old, now routeParents) {
	for i := range old.refs {
		k := parentKey(&old.refs[i], old.ns)
		delete(s.naming[k], id)
		if len(s.naming[k]) == 0 {
			delete(s.naming, k)
		}
	}
	for i := range now.refs {
		k := parentKey(&now.refs[i], now.ns)
		if s.naming[k] == nil {
			s.naming[k] = map[routeID]struct{}{}
		}
		s.naming[k][id] = struct{}{}
	}
}

// parentKey is the key of the object a parentRef names, whatever its kind.
func parentKey(ref *gatewayv1.ParentReference, routeNS string) types.NamespacedName {
	key := types.NamespacedName{Namespace: routeNS, Name: string(ref.Name)}
	if ref.Namespace != nil {
		key.Namespace = string(*ref.Namespace)
	}
	return key
}

// applyBackends takes in the Services, slices, Secrets and Upstreams of ch.
func (s *store) applyBackends(ch *Changes, d *delta) {
	b := s.backends
	for k, svc := range ch.Services {
		set(b.services, k, svc)
		v := s.versions.services[k]
		v.uid, v.rv = "", ""
		if svc != nil {
			v.uid, v.rv = svc.UID, svc.ResourceVersion
		}
		s.versions.services[k] = v
		if v == (version{}) {
			delete(s.versions.services, k) // gone, and no slice left
		}
		d.deps = append(d.deps, dependency{depService, k})
	}
	for k, sl := range ch.EndpointSlices {
		for _, svc := range b.setSlice(k, sl, s.versions.services) {
			d.deps = append(d.deps, dependency{depService, svc})
		}
	}
	named := map[types.NamespacedName]bool{}
	if len(ch.Secrets) > 0 {
		named = listenerSecrets(s.gateways)
	}
	for k, sec := range ch.Secrets {
		set(b.secrets, k, sec)
		setVersion(s.versions.secrets, k, sec)
		d.deps = append(d.deps, dependency{depSecret, k})
		d.rest = d.rest || named[k]
	}
	for k, u := range ch.Upstreams {
		set(b.upstreams, k, u)
	}
	if b.upstreamsChanged(ch, d.deps) {
		for k := range b.upstreams {
			d.deps = append(d.deps, dependency{depUpstream, k})
		}
		for k := range ch.Upstreams {
			d.deps = append(d.deps, dependency{depUpstream, k})
		}
	}
}

// set stores obj under k, or deletes k when obj is nil.
func set[P comparable](m map[types.NamespacedName]P, k types.NamespacedName, obj P) {
	var none P
	if obj == none {
		delete(m, k)
		return
	}
	m[k] = obj
}

func setAll[P comparable](m, ch map[types.NamespacedName]P) {
	for k, obj := range ch {
		set(m, k, obj)
	}
}

func setVersion[P interface {
	comparable
	metav1.Object
}](m map[types.NamespacedName]version, k types.NamespacedName, obj P) {
	var none P
	if obj == none {
		delete(m, k)
		return
	}
	m[k] = version{uid: obj.GetUID(), rv: obj.GetResourceVersion()}
}

// digestSeed seeds the EndpointSlice digests; it only has to be the same
// within one process.
var digestSeed = maphash.MakeSeed()

// sliceDigest is what one slice adds to its Service's version (summed, so the
// order of the slices does not matter; two different sets of slices
// giving one sum is a 64-bit hash collision).
func sliceDigest(s *discoveryv1.EndpointSlice) uint64 {
	var h maphash.Hash
	h.SetSeed(digestSeed)
	for _, part := range []string{s.Name, string(s.UID), s.ResourceVersion} {
		h.WriteString(part)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// input is in's settings with the objects the Gateways are built from;
// routes, ConfigMaps and backends come from the store itself.
func (s *store) input(in Input) Input {
	in.GatewayClasses = values(s.classes)
	in.Gateways = values(s.gateways)
	in.ReferenceGrants = values(s.grants)
	in.BackendTLSPolicies = values(s.policies)
	in.Namespaces = values(s.namespaces)
	in.HTTPRoutes, in.GRPCRoutes, in.ConfigMaps = nil, nil, nil
	in.Backends = s.backends
	return in
}

// values are shallow copies of m's objects, in no order: the translation
// sorts what it needs sorted.
func values[T any](m map[types.NamespacedName]*T) []T {
	out := make([]T, 0, len(m))
	for _, o := range m {
		out = append(out, *o)
	}
	return out
}

// allRoutes are every route, for a run that redoes every Gateway.
func (s *store) allRoutes() routeBatch {
	b := routeBatch{all: true, http: make([]*gatewayv1.HTTPRoute, 0, len(s.http)), grpc: make([]*gatewayv1.GRPCRoute, 0, len(s.grpc))}
	for _, r := range s.http {
		b.http = append(b.http, r)
	}
	for _, r := range s.grpc {
		b.grpc = append(b.grpc, r)
	}
	return b
}

// batch are the routes d may affect: those that changed, those whose
// last translation read an object that did, and those naming the
// Gateways of regateways.
func (s *store) batch(d delta, m *routeMemo, regateways map[types.NamespacedName]bool) routeBatch {
	ids := map[routeID]bool{}
	for _, id := range d.routes {
		ids[id] = true
	}
	for k := range regateways {
		for id := range s.naming[k] {
			ids[id] = true
		}
	}
	for _, dep := range d.deps {
		for id := range m.dependents[dep] {
			ids[id] = true
		}
	}
	var b routeBatch
	for id := range ids {
		switch r, g := s.http[id.key], s.grpc[id.key]; {
		case id.kind == "HTTPRoute" && r != nil:
			b.http = append(b.http, r)
		case id.kind == "GRPCRoute" && g != nil:
			b.grpc = append(b.grpc, g)
		default:
			b.gone = append(b.gone, id)
		}
	}
	return b
}

// routeBatch are the routes a run translates: every route (all), or
// those a change may affect, with the keys of those deleted (gone).
type routeBatch struct {
	http []*gatewayv1.HTTPRoute
	grpc []*gatewayv1.GRPCRoute
	all  bool
	gone []routeID
}

// batchOf is every route of in.
func batchOf(in *Input) routeBatch {
	b := routeBatch{all: true}
	for i := range in.HTTPRoutes {
		b.http = append(b.http, &in.HTTPRoutes[i])
	}
	for i := range in.GRPCRoutes {
		b.grpc = append(b.grpc, &in.GRPCRoutes[i])
	}
	return b
}

// diff are the Changes that turn the store's objects into in's and
// backends'.
func (s *store) diff(in *Input, backends *translate.Input) Changes {
	b := s.backends
	return Changes{
		GatewayClasses: diffList(in.GatewayClasses, s.classes), Gateways: diffList(in.Gateways, s.gateways),
		HTTPRoutes: diffList(in.HTTPRoutes, s.http), GRPCRoutes: diffList(in.GRPCRoutes, s.grpc),
		ReferenceGrants: diffList(in.ReferenceGrants, s.grants), BackendTLSPolicies: diffList(in.BackendTLSPolicies, s.policies),
		Namespaces: diffList(in.Namespaces, s.namespaces), ConfigMaps: diffList(in.ConfigMaps, s.configMaps),
		Services: diffList(backends.Services, b.services), EndpointSlices: diffList(backends.EndpointSlices, b.slices),
		Secrets: diffList(backends.Secrets, b.secrets), Upstreams: diffList(backends.Upstreams, b.upstreams),
	}
}

// diffList are the objects of items that have holds in another version
// or not at all (copies), and nil for the keys of have items lacks.
func diffList[T any, P interface {
	*T
	metav1.Object
}](items []T, have map[types.NamespacedName]P) map[types.NamespacedName]P {
	out := map[types.NamespacedName]P{}
	seen := make(map[types.NamespacedName]bool, len(items))
	for i := range items {
		p := P(&items[i])
		k := keyOf(p)
		seen[k] = true
		if old := have[k]; old != nil && old.GetUID() == p.GetUID() && old.GetResourceVersion() == p.GetResourceVersion() {
			continue
		}
		cp := items[i]
		out[k] = &cp
	}
	for k := range have {
		if !seen[k] {
			out[k] = nil
		}
	}
	return out
}

// allVersioned reports whether every object has a resourceVersion, which
// telling changed objects from unchanged ones needs.
func allVersioned(in *Input, b *translate.Input) bool {
	return versioned(in.GatewayClasses) && versioned(in.Gateways) && versioned(in.HTTPRoutes) && versioned(in.GRPCRoutes) &&
		versioned(in.ReferenceGrants) && versioned(in.BackendTLSPolicies) && versioned(in.Namespaces) &&
		versioned(in.ConfigMaps) && versioned(b.Services) && versioned(b.EndpointSlices) && versioned(b.Secrets) &&
		versioned(b.Upstreams)
}
