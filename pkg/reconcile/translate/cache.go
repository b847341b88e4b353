package translate

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Cache makes Translate incremental. Carried from one call to the next,
// it keeps a copy of the objects (by UID and resourceVersion), so a call
// finds what changed, and re-translates only the Ingresses a change can
// affect:
//
//   - an Ingress that changed, or whose Services, EndpointSlices, TLS
//     Secrets or Upstreams did (an index from each object to the
//     Ingresses naming it finds them);
//   - with them, every Ingress sharing a claim with them (a host, a TLS
//     host, the catch-all default backend), directly or through others:
//     the oldest Ingress wins a claim, so only such a group decides who
//     wins what (see claimsOf).
//
// Each group's routes, certificates, upstreams and results are kept, and
// the snapshot's sorted lists are patched where a group changed; the
// VirtualHost of a host whose routes did not change keeps its Routes
// slice, so the data plane can keep what it compiled from it. Resolved
// Service ports and parsed TLS Secrets are kept by the versions of the
// objects they came from. Every Upstream is re-translated on each call
// (there are few).
//
// The result equals Translate's; tests check that over random sequences of
// changes. Objects without a resourceVersion, as in tests, count as
// changed on every call. A Cache is for one goroutine at a time.
type Cache struct {
	epoch         uint64
	allowLoopback bool
	services      map[servicePortRef]*serviceUse
	certs         map[types.NamespacedName]*loadedCert
	// accepted are the conditions of an Ingress without problems, by
	// generation, one slice shared by every such Ingress: a copy each was
	// 200 bytes an Ingress.
	accepted map[int64][]metav1.Condition
	state    *incremental
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{
		services: map[servicePortRef]*serviceUse{},
		certs:    map[types.NamespacedName]*loadedCert{},
		accepted: map[int64][]metav1.Condition{},
	}
}

// maxSharedConditions bounds Cache.accepted: generations only grow.
const maxSharedConditions = 1024

// ingressConditions are r's conditions for an Ingress of generation gen;
// without a problem to report, the Cache's shared ones. The slice is
// read-only: who changes a result's conditions clones them first.
func (t *translator) ingressConditions(r *report, gen int64) []metav1.Condition {
	if t.cache == nil || len(r.warnings) > 0 {
		return r.ingressConditions(gen)
	}
	if c, ok := t.cache.accepted[gen]; ok {
		return c
	}
	if len(t.cache.accepted) >= maxSharedConditions {
		clear(t.cache.accepted)
	}
	c := r.ingressConditions(gen)
	t.cache.accepted[gen] = c
	return c
}

// Translate is Translate(in), re-doing only what depends on the objects
// that changed since the previous call.
func (c *Cache) Translate(in Input) Output {
	c.epoch++
	if in.AllowLoopbackEndpoints != c.allowLoopback {
		clear(c.services) // endpoints were filtered by the other policy
		c.allowLoopback = in.AllowLoopbackEndpoints
	}
	if c.state == nil {
		c.state = newIncremental()
	}
	out, ok := c.state.translate(&in, c)
	if !ok { // an input no informer cache produces: start afresh
		c.state = nil
		return translate(in, nil)
	}
	c.forgetDeleted()
	return out
}

// TranslateChanges is Translate of the objects of the last call with ch
// applied: in's settings, IngressClasses and LastGoodCertificates are
// used, its lists of other objects are not. Its cost depends on what
// changed, not on how many objects there are; a controller feeds it the
// keys its informers saw change.
func (c *Cache) TranslateChanges(in Input, ch Changes) Output {
	c.epoch++
	if in.AllowLoopbackEndpoints != c.allowLoopback {
		clear(c.services)
		c.allowLoopback = in.AllowLoopbackEndpoints
	}
	if c.state == nil {
		c.state = newIncremental()
	}
	c.state.w.apply(&ch, c.epoch)
	out := c.state.build(&in, c.state.w.upstreamList(), c)
	c.forgetDeleted()
	return out
}

// forgetDeleted drops what the memos hold for deleted Services and Secrets.
func (c *Cache) forgetDeleted() {
	w := c.state.w
	for k := range w.changed.secrets {
		if _, ok := w.secrets[k]; !ok {
			delete(c.certs, k)
		}
	}
	for k := range w.changed.services {
		if _, ok := w.services[k]; !ok {
			for ref := range c.services {
				if ref.service == k {
					delete(c.services, ref)
				}
			}
		}
	}
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
	deps []objectVersion
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
	return l.cert, l.warning
}
