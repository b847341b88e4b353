package translate

import (
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Cache makes Translate incremental: carried from one call to the next, it
// keeps the results that depend on few objects, keyed by the UIDs and
// resourceVersions of exactly those objects, so a change re-does only
// what depends on the changed object:
//
//   - an Ingress's plan (hosts and paths checked, TLS hosts): the Ingress;
//   - a Service port's upstream and endpoints: the Service and its
//     EndpointSlices;
//   - a TLS Secret's parsed certificate: the Secret.
//
// What relates objects to each other (the oldest Ingress wins a host and
// path, a TLS host, a default backend) is map work redone on every call,
// so the result always equals Translate's; tests check that over random
// sequences of changes. Objects without a resourceVersion, as in tests, are
// never cached. A Cache is for one goroutine at a time.
type Cache struct {
	epoch         uint64
	allowLoopback bool
	ingresses     map[types.NamespacedName]*ingressPlan
	services      map[servicePortRef]*serviceUse
	certs         map[types.NamespacedName]*loadedCert
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{
		ingresses: map[types.NamespacedName]*ingressPlan{},
		services:  map[servicePortRef]*serviceUse{},
		certs:     map[types.NamespacedName]*loadedCert{},
	}
}

// Translate is Translate(in), reusing what the previous calls found for
// the objects that did not change.
func (c *Cache) Translate(in Input) Output {
	c.epoch++
	if in.AllowLoopbackEndpoints != c.allowLoopback {
		clear(c.services) // endpoints were filtered by the other policy
		c.allowLoopback = in.AllowLoopbackEndpoints
	}
	out := translate(in, c)
	c.sweep()
	return out
}

// sweep forgets what the last call did not use: deleted objects and old
// versions.
func (c *Cache) sweep() {
	deleteStale(c.ingresses, func(p *ingressPlan) uint64 { return p.epoch }, c.epoch)
	deleteStale(c.services, func(u *serviceUse) uint64 { return u.epoch }, c.epoch)
	deleteStale(c.certs, func(l *loadedCert) uint64 { return l.epoch }, c.epoch)
}

func deleteStale[K comparable, V any](m map[K]V, epoch func(V) uint64, now uint64) {
	for k, v := range m {
		if epoch(v) != now {
			delete(m, k)
		}
	}
}

// plan returns ing's plan, made anew unless the cache holds one for this
// version of ing.
func (c *Cache) plan(ing *networkingv1.Ingress) *ingressPlan {
	if c == nil || ing.ResourceVersion == "" {
		return planIngress(ing)
	}
	key := keyOf(ing)
	p, ok := c.ingresses[key]
	if !ok || p.uid != ing.UID || p.version != ing.ResourceVersion {
		p = planIngress(ing)
		c.ingresses[key] = p
	}
	p.epoch = c.epoch
	return p
}

// objectVersion identifies one version of one object.
type objectVersion struct {
	name    string
	uid     types.UID
	version string
}

func versionOf(name string, uid types.UID, rv string) (objectVersion, bool) {
	return objectVersion{name: name, uid: uid, version: rv}, rv != ""
}

// servicePortRef is a Service port as a backend names it.
type servicePortRef struct {
	service types.NamespacedName
	port    portRef
}

// serviceUse is a Service port resolved for use as a backend: the
// upstream and the warnings of every route to it, or why it is unusable.
type serviceUse struct {
	sp       servicePort
	upstream snapshot.Upstream
	failed   *Warning
	warnings []Warning
	// deps are the versions of the Service and its slices it was made
	// from; nil when one of them has no resourceVersion.
	deps  []objectVersion
	epoch uint64
}

// service resolves a Service port once per translation, and across
// translations while the Service and its slices keep their versions.
func (t *translator) service(ns, name string, port portRef) *serviceUse {
	ref := servicePortRef{service: types.NamespacedName{Namespace: ns, Name: name}, port: port}
	if u, ok := t.services[ref]; ok {
		return u
	}
	deps := t.idx.serviceDeps(ref.service)
	var u *serviceUse
	if c := t.cache; c != nil && deps != nil {
		if old, ok := c.services[ref]; ok && slices.Equal(old.deps, deps) {
			u = old
		}
	}
	if u == nil {
		u = t.idx.resolveUse(ns, name, port)
		u.deps = deps
	}
	if c := t.cache; c != nil && deps != nil {
		u.epoch = c.epoch
		c.services[ref] = u
	}
	t.services[ref] = u
	return u
}

// serviceDeps lists the versions of the Service key and its slices, or
// returns nil when the Service is missing or a version is unknown.
func (x *index) serviceDeps(key types.NamespacedName) []objectVersion {
	svc, ok := x.services[key]
	if !ok {
		return nil
	}
	v, ok := versionOf("", svc.UID, svc.ResourceVersion)
	if !ok {
		return nil
	}
	deps := []objectVersion{v}
	for _, s := range x.slices[key] {
		if v, ok = versionOf(s.Name, s.UID, s.ResourceVersion); !ok {
			return nil
		}
		deps = append(deps, v)
	}
	return deps
}

func (x *index) resolveUse(ns, name string, port portRef) *serviceUse {
	sp, w := x.resolveService(ns, name, port)
	if w != nil {
		return &serviceUse{failed: w}
	}
	u := &serviceUse{sp: sp, upstream: serviceUpstream(sp)}
	if len(sp.forbidden) > 0 {
		u.warnings = append(u.warnings, *warnf(ReasonForbiddenEndpoint,
			"Service %q port %d lists endpoint addresses Baton refuses, dropped: %s",
			sp.key, sp.port.Port, sp.forbidden.describe()))
	}
	if len(sp.ready) == 0 {
		u.warnings = append(u.warnings, *warnf(ReasonNoReadyEndpoints,
			"Service %q port %d has no ready endpoints; its routes answer 503", sp.key, sp.port.Port))
	}
	return u
}

// loadedCert is a TLS Secret's certificate as loadCertificate found it.
type loadedCert struct {
	version objectVersion
	cert    snapshot.Certificate
	warning *Warning
	epoch   uint64
}

// loadCertificate parses a TLS Secret once per version of the Secret.
func (t *translator) loadCertificate(key types.NamespacedName) (snapshot.Certificate, *Warning) {
	s := t.idx.secrets[key]
	if s == nil || t.cache == nil {
		return loadCertificate(s, key)
	}
	v, ok := versionOf("", s.UID, s.ResourceVersion)
	if !ok {
		return loadCertificate(s, key)
	}
	l, hit := t.cache.certs[key]
	if !hit || l.version != v {
		l = &loadedCert{version: v}
		l.cert, l.warning = loadCertificate(s, key)
		t.cache.certs[key] = l
	}
	l.epoch = t.cache.epoch
	return l.cert, l.warning
}
