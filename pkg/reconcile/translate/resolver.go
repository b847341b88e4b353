package translate

import (
	"crypto/x509"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Resolver gives another translation (Gateway API, pkg/reconcile/gateway)
// the backends, certificates and CAs of the objects in an Input, resolved
// by the same rules and named the same way as for Ingresses: a Service
// port both kinds of route use is one upstream, one pool, one health state.
type Resolver struct {
	t *translator
}

// NewResolver indexes the Services, EndpointSlices, Secrets and Upstreams
// of in (the rest is ignored) and translates every Upstream.
func NewResolver(in Input) *Resolver {
	t := newTranslator(Input{Services: in.Services, EndpointSlices: in.EndpointSlices, Secrets: in.Secrets,
		Upstreams: in.Upstreams, AllowLoopbackEndpoints: in.AllowLoopbackEndpoints}, nil)
	t.translateUpstreams(in.Upstreams)
	return &Resolver{t: t}
}

// HasService reports whether the Service exists, whatever its ports.
func (r *Resolver) HasService(key types.NamespacedName) bool {
	_, ok := r.t.idx.services[key]
	return ok
}

// Service returns the upstream of a Service port given by number, or why
// it cannot be used (Reason ServiceNotFound, PortNotFound or
// UnsupportedService). Extra warnings (no ready endpoints, addresses
// dropped) concern a usable upstream.
func (r *Resolver) Service(key types.NamespacedName, port int32) (up snapshot.Upstream, failed *Warning, extra []Warning) {
	use := r.t.service(key.Namespace, key.Name, portRef{number: port})
	if use.failed != nil {
		return snapshot.Upstream{}, use.failed, nil
	}
	return use.upstream, nil, use.warnings
}

// Upstream returns the translated baton.dev Upstream key, whether it
// exists and whether it is Ready (its Ready condition otherwise).
func (r *Resolver) Upstream(key types.NamespacedName) (up snapshot.Upstream, found bool, notReady *Warning) {
	b, ok := r.t.built[key]
	if !ok {
		return snapshot.Upstream{}, false, nil
	}
	if b.ready.Status != "True" {
		return b.upstream, true, &Warning{Reason: b.ready.Reason, Message: b.ready.Message}
	}
	return b.upstream, true, nil
}

// Certificate loads a kubernetes.io/tls Secret (Reason SecretNotFound or
// InvalidSecret when it cannot be served).
func (r *Resolver) Certificate(key types.NamespacedName) (snapshot.Certificate, *Warning) {
	return loadCertificate(r.t.idx.secrets[key], key)
}

// CA reads PEM certificates from a Secret key ("" is ca.crt).
func (r *Resolver) CA(key types.NamespacedName, dataKey string) ([]byte, *Warning) {
	return r.t.loadCA(key, dataKey)
}

// ServicePort returns the port of a Service given by number, if the
// Service has it (for its name and appProtocol).
func (r *Resolver) ServicePort(key types.NamespacedName, port int32) (corev1.ServicePort, bool) {
	svc, ok := r.t.idx.services[key]
	if !ok {
		return corev1.ServicePort{}, false
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

// HoldsCertificate reports whether data holds at least one PEM certificate.
func HoldsCertificate(data []byte) bool {
	return x509.NewCertPool().AppendCertsFromPEM(data)
}
