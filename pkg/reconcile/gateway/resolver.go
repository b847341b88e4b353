package gateway

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// storeBackends answers a Cache's Backends lookups from the objects it
// keeps. A translate.Resolver of every Service cost O(cluster) per change;
// this one resolves a Service with a Resolver of that Service and its
// slices only (the same rules, so the same upstream), made when a call
// first asks and dropped at the end of the call: the next change asks
// again only for the Services it touches. Upstreams are few; one
// Resolver of all of them, and of the Services and Secrets they name, is
// kept until one of those changes.
type storeBackends struct {
	allowLoopback bool
	services      map[types.NamespacedName]*corev1.Service
	slices        map[types.NamespacedName]*discoveryv1.EndpointSlice
	// slicesOf are the slices of each Service, by slice key.
	slicesOf  map[types.NamespacedName]map[types.NamespacedName]*discoveryv1.EndpointSlice
	secrets   map[types.NamespacedName]*corev1.Secret
	upstreams map[types.NamespacedName]*v1alpha1.Upstream

	// resolved are this call's Resolvers, by Service or Secret.
	resolved map[dependency]*translate.Resolver
	// ofUpstreams resolves the Upstreams; upstreamReads are the Services
	// and Secrets it read.
	ofUpstreams   *translate.Resolver
	upstreamReads map[dependency]bool
}

func newStoreBackends(allowLoopback bool) *storeBackends {
	return &storeBackends{allowLoopback: allowLoopback, services: map[types.NamespacedName]*corev1.Service{},
		slices:   map[types.NamespacedName]*discoveryv1.EndpointSlice{},
		slicesOf: map[types.NamespacedName]map[types.NamespacedName]*discoveryv1.EndpointSlice{},
		secrets:  map[types.NamespacedName]*corev1.Secret{}, upstreams: map[types.NamespacedName]*v1alpha1.Upstream{},
		resolved: map[dependency]*translate.Resolver{}}
}

// setSlice stores (or with nil deletes) slice k, moves its digest in the
// Services' versions, and returns the Services it left or joined.
func (b *storeBackends) setSlice(k types.NamespacedName, s *discoveryv1.EndpointSlice, versions map[types.NamespacedName]version) []types.NamespacedName {
	var touched []types.NamespacedName
	if old := b.slices[k]; old != nil {
		svc := sliceService(old)
		delete(b.slicesOf[svc], k)
		if len(b.slicesOf[svc]) == 0 {
			delete(b.slicesOf, svc)
		}
		addSliceDigest(versions, svc, -sliceDigest(old))
		touched = append(touched, svc)
	}
	set(b.slices, k, s)
	if s == nil {
		return touched
	}
	svc := sliceService(s)
	if b.slicesOf[svc] == nil {
		b.slicesOf[svc] = map[types.NamespacedName]*discoveryv1.EndpointSlice{}
	}
	b.slicesOf[svc][k] = s
	addSliceDigest(versions, svc, sliceDigest(s))
	return append(touched, svc)
}

// addSliceDigest adds d (unsigned arithmetic: -x undoes +x) to svc's
// version, dropping a version left with nothing in it.
func addSliceDigest(versions map[types.NamespacedName]version, svc types.NamespacedName, d uint64) {
	v := versions[svc]
	v.slices += d
	if v == (version{}) {
		delete(versions, svc)
		return
	}
	versions[svc] = v
}

func sliceService(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
}

// upstreamsChanged drops the Upstreams' Resolver when an Upstream, or a
// Service or Secret one read, changed (deps are the changed objects), and
// says whether it did.
func (b *storeBackends) upstreamsChanged(ch *Changes, deps []dependency) bool {
	changed := len(ch.Upstreams) > 0
	for _, d := range deps {
		changed = changed || b.upstreamReads[d]
	}
	if changed {
		b.ofUpstreams, b.upstreamReads = nil, nil
	}
	return changed
}

// endCall drops this call's Resolvers: the objects may change before the
// next.
func (b *storeBackends) endCall() { clear(b.resolved) }

// ofService is a Resolver of the Service key and its slices.
func (b *storeBackends) ofService(key types.NamespacedName) *translate.Resolver {
	d := dependency{depService, key}
	if r := b.resolved[d]; r != nil {
		return r
	}
	in := translate.Input{AllowLoopbackEndpoints: b.allowLoopback}
	if svc := b.services[key]; svc != nil {
		in.Services = []corev1.Service{*svc}
	}
	for _, s := range b.slicesOf[key] {
		in.EndpointSlices = append(in.EndpointSlices, *s)
	}
	r := translate.NewResolver(in)
	b.resolved[d] = r
	return r
}

// ofSecret is a Resolver of the Secret key.
func (b *storeBackends) ofSecret(key types.NamespacedName) *translate.Resolver {
	d := dependency{depSecret, key}
	if r := b.resolved[d]; r != nil {
		return r
	}
	var in translate.Input
	if s := b.secrets[key]; s != nil {
		in.Secrets = []corev1.Secret{*s}
	}
	r := translate.NewResolver(in)
	b.resolved[d] = r
	return r
}

// upstreamResolver is a Resolver of every Upstream and of the Services
// (with their slices) and Secrets they name.
func (b *storeBackends) upstreamResolver() *translate.Resolver {
	if b.ofUpstreams != nil {
		return b.ofUpstreams
	}
	in := translate.Input{AllowLoopbackEndpoints: b.allowLoopback}
	b.upstreamReads = map[dependency]bool{}
	for k, u := range b.upstreams {
		in.Upstreams = append(in.Upstreams, *u)
		if ref := u.Spec.ServiceRef; ref != nil {
			b.readForUpstreams(&in, dependency{depService, types.NamespacedName{Namespace: k.Namespace, Name: ref.Name}})
		}
		if tls := u.Spec.TLS; tls != nil && tls.CASecretRef != nil {
			b.readForUpstreams(&in, dependency{depSecret, types.NamespacedName{Namespace: k.Namespace, Name: tls.CASecretRef.Name}})
		}
	}
	b.ofUpstreams = translate.NewResolver(in)
	return b.ofUpstreams
}

func (b *storeBackends) readForUpstreams(in *translate.Input, d dependency) {
	if b.upstreamReads[d] {
		return
	}
	b.upstreamReads[d] = true
	if d.kind == depSecret {
		if s := b.secrets[d.key]; s != nil {
			in.Secrets = append(in.Secrets, *s)
		}
		return
	}
	if svc := b.services[d.key]; svc != nil {
		in.Services = append(in.Services, *svc)
	}
	for _, s := range b.slicesOf[d.key] {
		in.EndpointSlices = append(in.EndpointSlices, *s)
	}
}

func (b *storeBackends) Service(key types.NamespacedName, port int32) (snapshot.Upstream, *translate.Warning, []translate.Warning) {
	return b.ofService(key).Service(key, port)
}

func (b *storeBackends) ServicePort(key types.NamespacedName, port int32) (corev1.ServicePort, bool) {
	return b.ofService(key).ServicePort(key, port)
}

func (b *storeBackends) Upstream(key types.NamespacedName) (snapshot.Upstream, bool, *translate.Warning) {
	return b.upstreamResolver().Upstream(key)
}

func (b *storeBackends) Certificate(key types.NamespacedName) (snapshot.Certificate, *translate.Warning) {
	return b.ofSecret(key).Certificate(key)
}

func (b *storeBackends) CA(key types.NamespacedName, dataKey string) ([]byte, *translate.Warning) {
	return b.ofSecret(key).CA(key, dataKey)
}
