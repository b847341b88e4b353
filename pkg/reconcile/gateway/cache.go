package gateway

import (
	"encoding/json"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strconv"

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
// It keeps the objects (see store), and TranslateChanges takes only those
// that changed: an index from each object to the routes that read it
// finds the routes to translate again, so unchanged routes are not even
// looked at. Backends are resolved from the kept objects, one Service at
// a time (see storeBackends), not by indexing every Service again.
//
// While nothing but routes and what they read (Services, slices,
// Upstreams, CA ConfigMaps and Secrets) changed, it also keeps the rest of
// the output: only the Gateways a changed route names (or named) are
// attached and assembled again, only the changed routes' statuses are
// redone, and the sorted lists of the Output are patched. A change to
// anything else (a Gateway, GatewayClass, Namespace, grant, policy, a
// Secret a listener names, or an option) rebuilds every Gateway, reusing
// the routes' translations. So the result equals Translate's (tests check
// that over random sequences of changes).
//
// Translate, given whole lists, finds the changes by comparing versions
// with the kept objects; objects without a resourceVersion, as in some
// tests, turn reuse off for that call. A Cache is for one goroutine at a
// time.
type Cache struct {
	memo  routeMemo
	store *store
	// t and out are the last call's translator (its Gateways) and
	// outputs; settings the digest of the options they were made with.
	t        *translator
	out      *outputs
	settings uint64
	// rebuilds counts the calls that rebuilt every Gateway, for tests.
	rebuilds int
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{memo: newRouteMemo()}
}

// Translate is Translate(in); backends are the objects in.Backends
// resolves (the Cache resolves them itself, and in.Backends may be nil).
func (c *Cache) Translate(in Input, backends *translate.Input) Output {
	if backends == nil || !allVersioned(&in, backends) {
		c.memo, c.store, c.t, c.out = newRouteMemo(), nil, nil, nil
		if in.Backends == nil && backends != nil {
			in.Backends = translate.NewResolver(*backends)
		}
		return Translate(in)
	}
	if c.store == nil {
		c.store = newStore(backends.AllowLoopbackEndpoints)
	}
	ch := c.store.diff(&in, backends)
	return c.TranslateChanges(in, backends.AllowLoopbackEndpoints, &ch)
}

// TranslateChanges is Translate of the objects of the last call with ch
// applied; in's settings are used, its lists and Backends are not, and
// allowLoopback is translate.Input.AllowLoopbackEndpoints. Its cost
// depends on what changed, not on how many objects there are.
func (c *Cache) TranslateChanges(in Input, allowLoopback bool, ch *Changes) Output {
	if c.store == nil {
		c.store = newStore(allowLoopback)
	}
	if b := c.store.backends; b.allowLoopback != allowLoopback {
		b.allowLoopback, b.ofUpstreams = allowLoopback, nil
		c.memo, c.t = newRouteMemo(), nil // endpoints were filtered by the other policy
	}
	d := c.store.apply(ch)
	c.memo.versions = &c.store.versions
	c.memo.epoch++
	defer func() {
		c.store.backends.endCall()
		c.memo.versions = nil
	}()
	settings := settingsDigest(&in)
	if c.t == nil || d.rest || settings != c.settings {
		c.t, c.settings = c.newTranslator(in), settings
		if c.out == nil {
			c.out = newOutputs()
		}
		c.rebuilds++
		out := c.t.run(c.out, true, nil, c.store.allRoutes())
		c.memo.forgetUnseen()
		return out
	}
	var regateways map[types.NamespacedName]bool
	if len(d.gateways) > 0 {
		regateways = c.regateway(in)
	}
	batch := c.store.batch(d, &c.memo, regateways)
	out := c.t.run(c.out, false, regateways, batch)
	for _, id := range batch.gone {
		c.memo.forget(id)
	}
	return out
}

// newTranslator is a translator of the store's objects with in's settings.
func (c *Cache) newTranslator(in Input) *translator {
	t := newTranslator(c.store.input(in))
	t.configMaps, t.memo = c.store.configMaps, &c.memo
	return t
}

// regateway makes the translator anew after only Gateways changed,
// keeping the gateway (and so what attached to it) of each Gateway whose
// object and address did not change, and returns the keys of the others:
// new, changed or no longer ours. Only the routes naming those are
// looked at again.
func (c *Cache) regateway(in Input) map[types.NamespacedName]bool {
	old := c.t
	c.t = c.newTranslator(in)
	c.t.addGateways(c.t.classes(&Output{}))
	changed := map[types.NamespacedName]bool{}
	for k, gw := range c.t.gateways {
		if og := old.gateways[k]; og != nil && sameGateway(og, gw) {
			c.t.gateways[k] = og
		} else {
			changed[k] = true
		}
	}
	for k := range old.gateways {
		if c.t.gateways[k] == nil {
			changed[k] = true
		}
	}
	return changed
}

// sameGateway reports whether a and b are one version of one Gateway
// with one address: then their listeners are the same too, since nothing
// else they read changed.
func sameGateway(a, b *gateway) bool {
	return a.obj.UID == b.obj.UID && a.obj.ResourceVersion == b.obj.ResourceVersion &&
		slices.Equal(a.address.addrs, b.address.addrs) &&
		equalProblems(a.address.unusable, b.address.unusable) && equalProblems(a.address.unsupported, b.address.unsupported)
}

func equalProblems(a, b *problem) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

// routeMemo holds the routes a Cache translated, and while a call runs,
// the versions of the objects they may have read.
type routeMemo struct {
	routes map[routeID]*memoEntry
	// dependents are the routes whose translation read each object.
	dependents map[dependency]map[routeID]struct{}
	versions   *versions
	epoch      uint64
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

func newRouteMemo() routeMemo {
	return routeMemo{routes: map[routeID]*memoEntry{}, dependents: map[dependency]map[routeID]struct{}{}}
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
	id := routeID{rt.kind, rt.key}
	m.forget(id)
	e := &memoEntry{uid: rt.obj.GetUID(), version: rt.obj.GetResourceVersion(), seen: m.epoch, rt: rt}
	for _, d := range rt.deps {
		e.versions = append(e.versions, m.versions.of(d))
		if m.dependents[d] == nil {
			m.dependents[d] = map[routeID]struct{}{}
		}
		m.dependents[d][id] = struct{}{}
	}
	m.routes[id] = e
}

// forget drops route id, if kept.
func (m *routeMemo) forget(id routeID) {
	e := m.routes[id]
	if e == nil {
		return
	}
	for _, d := range e.rt.deps {
		delete(m.dependents[d], id)
		if len(m.dependents[d]) == 0 {
			delete(m.dependents, d)
		}
	}
	delete(m.routes, id)
}

// forgetUnseen drops the routes this call did not translate: deleted, or
// no longer naming one of our Gateways.
func (m *routeMemo) forgetUnseen() {
	for id, e := range m.routes {
		if e.seen != m.epoch {
			m.forget(id)
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
	backends                      Backends
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

// listenerSecrets are the Secrets the Gateways' listeners name.
func listenerSecrets(gws map[types.NamespacedName]*gatewayv1.Gateway) map[types.NamespacedName]bool {
	named := map[types.NamespacedName]bool{}
	for _, g := range gws {
		for _, l := range g.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				key := types.NamespacedName{Namespace: g.Namespace, Name: string(ref.Name)}
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
