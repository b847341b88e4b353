package gateway

import (
	"encoding/json"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// Cache makes Translate reuse the translation of each route (its rules,
// filters, matches and backends: most of a translation's work) from one
// call to the next while neither the route (UID and resourceVersion) nor
// anything it read changed: the Services (with their EndpointSlices) and
// Upstreams it names, the ReferenceGrants when it names another
// namespace, the BackendTLSPolicies when it names a Service, and the CA
// ConfigMaps and Secrets of the policies it applied.
//
// While nothing but routes and what they read (Services, slices,
// Upstreams) changed, it also keeps the rest of the output: only the
// Gateways a changed route names (or named) are attached and assembled
// again, only the statuses of their routes are redone, and the sorted
// lists of the Output are patched. A change to anything else (a Gateway,
// GatewayClass, Namespace, grant, policy, a Secret a listener names, or
// an option)
// rebuilds every Gateway, reusing the routes' translations. So the result
// equals Translate's (tests check that over random sequences of changes).
// Each call still checks every route's version and dependencies and
// indexes the versions of every object: cheap, but per object.
//
// Objects without a resourceVersion, as in some tests, turn reuse off for
// that call. A Cache is for one goroutine at a time.
type Cache struct {
	memo          routeMemo
	allowLoopback bool
	// t and out are the last call's translator (its Gateways) and
	// outputs; rest the digest of the inputs they depend on besides
	// routes and what routes read.
	t    *translator
	out  *outputs
	rest uint64
	// rebuilds counts the calls that rebuilt every Gateway, for tests.
	rebuilds int
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{memo: routeMemo{routes: map[routeID]*memoEntry{}}}
}

// Translate is Translate(in); backends are the objects in.Backends was
// resolved from, whose versions say which reused routes are still valid.
func (c *Cache) Translate(in Input, backends *translate.Input) Output {
	v, ok := newVersions(&in, backends)
	if ok && backends.AllowLoopbackEndpoints != c.allowLoopback {
		clear(c.memo.routes) // endpoints were filtered by the other policy
		c.allowLoopback = backends.AllowLoopbackEndpoints
		c.t = nil
	}
	rest, restOK := restDigest(&in, backends)
	if !ok || !restOK {
		clear(c.memo.routes)
		c.t, c.out = nil, nil
		return Translate(in)
	}
	c.memo.versions = v
	c.memo.epoch++
	var out Output
	if c.t == nil || rest != c.rest {
		c.t, c.rest = newTranslator(in), rest
		if c.out == nil {
			c.out = newOutputs()
		}
		c.t.memo = &c.memo
		c.rebuilds++
		out = c.t.run(c.out, true)
	} else {
		c.t.routesOf(in)
		out = c.t.run(c.out, false)
	}
	c.memo.forgetUnseen()
	c.memo.versions = nil
	return out
}

// routesOf makes t, kept from the last call, translate in's routes with
// in's backends; its other inputs are the same versions as in's.
// ConfigMaps are read only for policies' CAs, by routes (whose versions
// say when) and by the policies' statuses, which are redone each call.
func (t *translator) routesOf(in Input) {
	t.in.HTTPRoutes, t.in.GRPCRoutes = in.HTTPRoutes, in.GRPCRoutes
	t.in.Backends, t.backends = in.Backends, in.Backends
	t.in.ConfigMaps = in.ConfigMaps
	clear(t.configMaps)
	for i := range in.ConfigMaps {
		t.configMaps[keyOf(&in.ConfigMaps[i])] = &in.ConfigMaps[i]
	}
}

// routeMemo holds the routes a Cache translated, and while a call runs,
// the versions of the objects they may have read.
type routeMemo struct {
	routes   map[routeID]*memoEntry
	versions *versions
	epoch    uint64
	// reused counts the routes reused, for tests.
	reused int
}

type routeID struct {
	kind string
	key  types.NamespacedName
}

type memoEntry struct {
	uid     types.UID
	version string
	seen    uint64
	rt      *routeTranslation
	// versions are those of rt.deps when rt was translated.
	versions []version
}

// reuse returns the translation of obj kept from an earlier call, if
// neither obj nor what it read changed since; nil otherwise. A nil memo
// (Translate) reuses nothing.
func (m *routeMemo) reuse(kind string, obj metav1.Object, parents []gatewayv1.ParentReference) *routeTranslation {
	if m == nil {
		return nil
	}
	e := m.routes[routeID{kind, keyOf(obj)}]
	if e == nil || e.uid != obj.GetUID() || e.version != obj.GetResourceVersion() {
		return nil
	}
	for i, d := range e.rt.deps {
		if m.versions.of(d) != e.versions[i] {
			return nil
		}
	}
	e.seen = m.epoch
	m.reused++
	e.rt.obj, e.rt.parents = obj, parents // the same, from this call's objects
	return e.rt
}

// remember keeps rt for later calls.
func (m *routeMemo) remember(rt *routeTranslation) {
	if m == nil {
		return
	}
	e := &memoEntry{uid: rt.obj.GetUID(), version: rt.obj.GetResourceVersion(), seen: m.epoch, rt: rt}
	for _, d := range rt.deps {
		e.versions = append(e.versions, m.versions.of(d))
	}
	m.routes[routeID{rt.kind, rt.key}] = e
}

// forgetUnseen drops the routes this call did not translate: deleted, or
// no longer naming one of our Gateways.
func (m *routeMemo) forgetUnseen() {
	for id, e := range m.routes {
		if e.seen != m.epoch {
			delete(m.routes, id)
		}
	}
}

// dependency is an object (or, for grants and policies, all objects of a
// kind) a route's translation read.
type dependency struct {
	kind depKind
	key  types.NamespacedName
}

type depKind int

const (
	depService depKind = iota // and its EndpointSlices
	depUpstream
	depGrants
	depPolicies
	depConfigMap
	depSecret
)

func (rt *routeTranslation) depend(kind depKind, key types.NamespacedName) {
	d := dependency{kind, key}
	if !slices.Contains(rt.deps, d) {
		rt.deps = append(rt.deps, d)
	}
}

// dependOnCA records the ConfigMap or Secret a policy's CA reference names.
func (rt *routeTranslation) dependOnCA(ns string, ref gatewayv1.LocalObjectReference) {
	key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	switch {
	case ref.Group == "" && ref.Kind == "ConfigMap":
		rt.depend(depConfigMap, key)
	case ref.Group == "" && ref.Kind == "Secret":
		rt.depend(depSecret, key)
	}
}

// versions are the versions of one call's objects, by what a dependency
// names.
type versions struct {
	services, configMaps, secrets map[types.NamespacedName]version
	grants, policies              version
	backends                      *translate.Resolver
}

// version is one dependency's version: an object's UID and
// resourceVersion; for a Service, also a digest of its EndpointSlices'
// (names, UIDs, resourceVersions); for what stands for many objects
// (all grants, all policies, a translated Upstream), a string. Struct
// values, not strings joined, keep indexing thousands of objects per call
// free of allocations.
type version struct {
	uid    types.UID
	rv     string
	slices uint64
	joined string
}

// newVersions indexes the versions of in's and backends' objects; false
// when some object has no resourceVersion.
func newVersions(in *Input, backends *translate.Input) (*versions, bool) {
	if backends == nil || in.Backends == nil {
		return nil, false
	}
	v := &versions{services: make(map[types.NamespacedName]version, len(backends.Services)),
		configMaps: make(map[types.NamespacedName]version, len(in.ConfigMaps)),
		secrets:    make(map[types.NamespacedName]version, len(backends.Secrets)), backends: in.Backends}
	ok := indexVersions(v.services, backends.Services) && indexVersions(v.configMaps, in.ConfigMaps) &&
		indexVersions(v.secrets, backends.Secrets) && addSliceVersions(v.services, backends.EndpointSlices)
	var okG, okP bool
	v.grants, okG = joinVersions(in.ReferenceGrants)
	v.policies, okP = joinVersions(in.BackendTLSPolicies)
	return v, ok && okG && okP && versioned(in.HTTPRoutes) && versioned(in.GRPCRoutes)
}

func indexVersions[T any, P interface {
	*T
	metav1.Object
}](into map[types.NamespacedName]version, items []T) bool {
	for i := range items {
		o := P(&items[i])
		if o.GetResourceVersion() == "" {
			return false
		}
		into[keyOf(o)] = version{uid: o.GetUID(), rv: o.GetResourceVersion()}
	}
	return true
}

// digestSeed seeds the EndpointSlice digests; it only has to be the same
// within one process.
var digestSeed = maphash.MakeSeed()

// addSliceVersions adds each EndpointSlice to its Service's version. The
// digests are summed, so the order of the slices does not matter; two
// different sets of slices giving one sum is a 64-bit hash collision.
func addSliceVersions(into map[types.NamespacedName]version, slices []discoveryv1.EndpointSlice) bool {
	for i := range slices {
		s := &slices[i]
		if s.ResourceVersion == "" {
			return false
		}
		var h maphash.Hash
		h.SetSeed(digestSeed)
		for _, part := range []string{s.Name, string(s.UID), s.ResourceVersion} {
			h.WriteString(part)
			h.WriteByte(0)
		}
		svc := types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
		v := into[svc]
		v.slices += h.Sum64()
		into[svc] = v
	}
	return true
}

// joinVersions is one version for all items, whatever their order.
func joinVersions[T any, P interface {
	*T
	metav1.Object
}](items []T) (version, bool) {
	vs := make([]string, 0, len(items))
	for i := range items {
		o := P(&items[i])
		if o.GetResourceVersion() == "" {
			return version{}, false
		}
		vs = append(vs, keyOf(o).String()+"/"+string(o.GetUID())+"/"+o.GetResourceVersion())
	}
	slices.Sort(vs)
	return version{joined: strings.Join(vs, ",")}, true
}

func versioned[T any, P interface {
	*T
	metav1.Object
}](items []T) bool {
	for i := range items {
		if P(&items[i]).GetResourceVersion() == "" {
			return false
		}
	}
	return true
}

// of is d's version now. An Upstream's translation reads Services and
// Secrets too: its version is what it translates to.
func (v *versions) of(d dependency) version {
	switch d.kind {
	case depService:
		return v.services[d.key]
	case depUpstream:
		up, found, _ := v.backends.Upstream(d.key)
		return version{joined: upstreamVersion(up, found)}
	case depGrants:
		return v.grants
	case depPolicies:
		return v.policies
	case depConfigMap:
		return v.configMaps[d.key]
	case depSecret:
		return v.secrets[d.key]
	}
	return version{}
}

// upstreamVersion is a translated Upstream as a comparable string; JSON
// sorts map keys, so equal upstreams give equal strings.
func upstreamVersion(up snapshot.Upstream, found bool) string {
	if !found {
		return ""
	}
	b, err := json.Marshal(up)
	if err != nil {
		return "unversioned" + strconv.Itoa(rand.Int()) // never equal: translate again
	}
	return string(b)
}

// restDigest is a digest of what the Gateways and listeners read besides
// routes, whatever the order of the lists; false when some object has
// no resourceVersion. Of the Secrets, only those a listener names count:
// routes record the ones they read (policies' CAs) themselves. Like the slices' digests, per-object hashes are
// summed; a collision is a 64-bit hash collision.
func restDigest(in *Input, backends *translate.Input) (uint64, bool) {
	if backends == nil {
		return 0, false
	}
	sum, ok := settingsDigest(in), true
	add := func(kind string, o metav1.Object) {
		if o.GetResourceVersion() == "" {
			ok = false
		}
		var h maphash.Hash
		h.SetSeed(digestSeed)
		for _, part := range []string{kind, o.GetNamespace(), o.GetName(), string(o.GetUID()), o.GetResourceVersion()} {
			h.WriteString(part)
			h.WriteByte(0)
		}
		sum += h.Sum64()
	}
	digestAll(in.GatewayClasses, "GatewayClass", add)
	digestAll(in.Gateways, "Gateway", add)
	digestAll(in.Namespaces, "Namespace", add)
	digestAll(in.ReferenceGrants, "ReferenceGrant", add)
	digestAll(in.BackendTLSPolicies, "BackendTLSPolicy", add)
	named := listenerSecrets(in.Gateways)
	for i := range backends.Secrets {
		if named[keyOf(&backends.Secrets[i])] {
			add("Secret", &backends.Secrets[i])
		}
	}
	return sum, ok
}

// listenerSecrets are the Secrets the Gateways' listeners name.
func listenerSecrets(gws []gatewayv1.Gateway) map[types.NamespacedName]bool {
	named := map[types.NamespacedName]bool{}
	for i := range gws {
		for _, l := range gws[i].Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				key := types.NamespacedName{Namespace: gws[i].Namespace, Name: string(ref.Name)}
				if ref.Namespace != nil {
					key.Namespace = string(*ref.Namespace)
				}
				named[key] = true
			}
		}
	}
	return named
}

// settingsDigest is a digest of in's settings.
func settingsDigest(in *Input) uint64 {
	var h maphash.Hash
	h.SetSeed(digestSeed)
	h.WriteString(string(in.ControllerName))
	h.WriteString(in.AddressPool.String())
	for _, ports := range [][]int{in.HTTPPorts, {-1}, in.HTTPSPorts} {
		for _, p := range ports {
			h.WriteString(strconv.Itoa(p) + ",")
		}
	}
	return h.Sum64()
}

func digestAll[T any, P interface {
	*T
	metav1.Object
}](items []T, kind string, add func(string, metav1.Object)) {
	for i := range items {
		add(kind, P(&items[i]))
	}
}
