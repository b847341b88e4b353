package translate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

const (
	controller = "baton.dev/ingress-controller"
	ourClass   = "baton"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A self-signed pair made once per test binary; Translate only checks that
// the PEM pair parses and matches.
var certPEM, keyPEM, otherCertPEM = makeCerts()

func makeCerts() (certPEM, keyPEM, otherCertPEM []byte) {
	c1, k1 := makeCert("one.example.com")
	c2, _ := makeCert("two.example.com")
	return c1, k1, c2
}

func makeCert(host string) ([]byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: epoch, NotAfter: epoch.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// --- Kubernetes objects ---

func ingressClass(name, ctrl string, isDefault bool) networkingv1.IngressClass {
	c := networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       networkingv1.IngressClassSpec{Controller: ctrl},
	}
	if isDefault {
		c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
	}
	return c
}

type ingressOption func(*networkingv1.Ingress)

// ingress is created age seconds after epoch with our class unless an
// option says otherwise.
func ingress(ns, name string, age int, opts ...ingressOption) networkingv1.Ingress {
	class := ourClass
	ing := networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Generation: 1,
			CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Second)),
		},
		Spec: networkingv1.IngressSpec{IngressClassName: &class},
	}
	for _, o := range opts {
		o(&ing)
	}
	return ing
}

func className(name string) ingressOption {
	return func(i *networkingv1.Ingress) { i.Spec.IngressClassName = &name }
}

func noClass() ingressOption {
	return func(i *networkingv1.Ingress) { i.Spec.IngressClassName = nil }
}

func annotation(k, v string) ingressOption {
	return func(i *networkingv1.Ingress) {
		if i.Annotations == nil {
			i.Annotations = map[string]string{}
		}
		i.Annotations[k] = v
	}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) ingressOption {
	return func(i *networkingv1.Ingress) {
		r := networkingv1.IngressRule{Host: host}
		if paths != nil {
			r.HTTP = &networkingv1.HTTPIngressRuleValue{Paths: paths}
		}
		i.Spec.Rules = append(i.Spec.Rules, r)
	}
}

func defaultBackend(b networkingv1.IngressBackend) ingressOption {
	return func(i *networkingv1.Ingress) { i.Spec.DefaultBackend = &b }
}

func tlsFor(secretName string, hosts ...string) ingressOption {
	return func(i *networkingv1.Ingress) {
		i.Spec.TLS = append(i.Spec.TLS, networkingv1.IngressTLS{Hosts: hosts, SecretName: secretName})
	}
}

func path(pt networkingv1.PathType, p string, b networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{PathType: &pt, Path: p, Backend: b}
}

func prefix(p string, b networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	return path(networkingv1.PathTypePrefix, p, b)
}

func exact(p string, b networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	return path(networkingv1.PathTypeExact, p, b)
}

func implSpecific(p string, b networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	return path(networkingv1.PathTypeImplementationSpecific, p, b)
}

func backend(svc string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

func backendNamed(svc, port string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: svc, Port: networkingv1.ServiceBackendPort{Name: port}}}
}

func resourceBackend(group, kind, name string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
		APIGroup: &group, Kind: kind, Name: name}}
}

func upstreamBackend(name string) networkingv1.IngressBackend {
	return resourceBackend(v1alpha1.GroupName, v1alpha1.UpstreamKind, name)
}

func service(ns, name string, ports ...corev1.ServicePort) corev1.Service {
	return corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: ports},
	}
}

func svcPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

// endpointSlice belongs to Service svc; ports map slice port names to
// target ports.
func endpointSlice(ns, svc, name string, ports map[string]int32, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
	s := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
	}
	for n, p := range ports {
		tcp := corev1.ProtocolTCP
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: &n, Port: &p, Protocol: &tcp})
	}
	return s
}

// readyEP, notReadyEP and unknownEP are endpoints whose ready condition is
// true, false and unset.
func readyEP(ips ...string) discoveryv1.Endpoint {
	t := true
	return discoveryv1.Endpoint{Addresses: ips, Conditions: discoveryv1.EndpointConditions{Ready: &t}}
}

func notReadyEP(ips ...string) discoveryv1.Endpoint {
	f := false
	return discoveryv1.Endpoint{Addresses: ips, Conditions: discoveryv1.EndpointConditions{Ready: &f}}
}

func unknownEP(ips ...string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: ips}
}

func tlsSecret(ns, name string) corev1.Secret {
	return secretOf(ns, name, corev1.SecretTypeTLS, map[string][]byte{
		corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM})
}

func secretOf(ns, name string, typ corev1.SecretType, data map[string][]byte) corev1.Secret {
	return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: typ, Data: data}
}

func upstream(ns, name string, spec v1alpha1.UpstreamSpec) v1alpha1.Upstream {
	return v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 3}, Spec: spec}
}

func static(eps ...v1alpha1.StaticEndpoint) v1alpha1.UpstreamSpec {
	return v1alpha1.UpstreamSpec{Endpoints: eps}
}

func serviceRef(name string, number int32, portName string) v1alpha1.UpstreamSpec {
	return v1alpha1.UpstreamSpec{ServiceRef: &v1alpha1.ServiceRef{
		Name: name, Port: v1alpha1.ServicePort{Number: number, Name: portName}}}
}

// --- expected snapshot parts ---

func vhost(name string, routes ...snapshot.Route) snapshot.VirtualHost {
	return snapshot.VirtualHost{Name: name, Routes: routes}
}

func prefixRoute(p, upstream, source string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathPrefix, Path: p, Upstream: upstream, Source: source}
}

func exactRoute(p, upstream, source string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathExact, Path: p, Upstream: upstream, Source: source}
}

// svcUpstream is the upstream of a Service backend with these addresses.
func svcUpstream(ns, name string, port int32, addrs ...string) snapshot.Upstream {
	u := snapshot.Upstream{
		Name:     fmt.Sprintf("service/%s/%s/%d", ns, name, port),
		Policy:   snapshot.PolicyRoundRobin,
		Protocol: snapshot.ProtocolHTTP1,
		Source:   ns + "/" + name,
	}
	for _, a := range addrs {
		u.Endpoints = append(u.Endpoints, snapshot.Endpoint{Address: a, Weight: 1})
	}
	return u
}

func cert(source string, hosts ...string) snapshot.Certificate {
	return snapshot.Certificate{Hosts: hosts, CertPEM: certPEM, KeyPEM: keyPEM, Source: source}
}

// --- assertions ---

func mustEqualJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatalf("%s: %v", what, err) // else two unmarshalable values compare equal
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if string(g) != string(w) {
		t.Fatalf("%s differs\n--- got:\n%s\n--- want:\n%s", what, g, w)
	}
}

// reasons lists the warning reasons of the Ingress result for key, or nil
// when there is no result.
func reasons(out Output, key string) []string {
	for _, r := range out.Ingresses.All() {
		if r.Key.String() == key {
			rs := []string{}
			for _, w := range r.Warnings {
				rs = append(rs, w.Reason)
			}
			return rs
		}
	}
	return nil
}

func resultKeys(out Output) []string {
	keys := []string{}
	for _, r := range out.Ingresses.All() {
		keys = append(keys, r.Key.String())
	}
	return keys
}

func ourClasses1() []networkingv1.IngressClass {
	return []networkingv1.IngressClass{ingressClass(ourClass, controller, false)}
}

func input(objs ...any) Input {
	in := Input{ControllerName: controller, ClassName: ourClass, IngressClasses: ourClasses1()}
	for _, o := range objs {
		switch o := o.(type) {
		case networkingv1.Ingress:
			in.Ingresses = append(in.Ingresses, o)
		case networkingv1.IngressClass:
			in.IngressClasses = append(in.IngressClasses, o)
		case corev1.Service:
			in.Services = append(in.Services, o)
		case discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, o)
		case corev1.Secret:
			in.Secrets = append(in.Secrets, o)
		case v1alpha1.Upstream:
			in.Upstreams = append(in.Upstreams, o)
		case []any:
			more := input(o...)
			more.IngressClasses = more.IngressClasses[len(ourClasses1()):]
			in = merge(in, more)
		default:
			panic(fmt.Sprintf("input: unexpected %T", o))
		}
	}
	return in
}

func emptyBackend() networkingv1.IngressBackend { return networkingv1.IngressBackend{} }

func staticEP(ip string, port, weight int32) v1alpha1.StaticEndpoint {
	return v1alpha1.StaticEndpoint{Address: ip, Port: port, Weight: weight}
}

func merge(a, b Input) Input {
	a.IngressClasses = append(a.IngressClasses, b.IngressClasses...)
	a.Ingresses = append(a.Ingresses, b.Ingresses...)
	a.Services = append(a.Services, b.Services...)
	a.EndpointSlices = append(a.EndpointSlices, b.EndpointSlices...)
	a.Secrets = append(a.Secrets, b.Secrets...)
	a.Upstreams = append(a.Upstreams, b.Upstreams...)
	return a
}

// stampedWithoutChanges gives out's snapshot, when it is a new one, the
// next version, as the controller does, so that the next call's Changes
// name it; it then checks the Changes out's snapshot holds against prev,
// the last one built (every host and upstream they do not list is the
// very same as in prev), and returns out with a copy of the snapshot
// without them, to compare with a full translation, which has none.
func stampedWithoutChanges(t *testing.T, where string, prev *snapshot.Snapshot, out Output, version uint64) Output {
	t.Helper()
	s := out.Snapshot
	if s != prev { // the same one again is not applied again
		s.Version = version
	}
	if ch := s.Changes; ch != nil && s != prev {
		if prev == nil || ch.Base != prev.Version {
			t.Fatalf("%s: Changes since version %d, but the last snapshot built is %v", where, ch.Base, prev)
		}
		checkUnlisted(t, where+": host", ch.Hosts, prev.HostSlice(), s.HostSlice(), func(h *snapshot.VirtualHost) string { return h.Name },
			func(a, b *snapshot.VirtualHost) bool {
				return len(a.Routes) == len(b.Routes) && (len(a.Routes) == 0 || &a.Routes[0] == &b.Routes[0])
			})
		checkUnlisted(t, where+": upstream", ch.Upstreams, prev.UpstreamSlice(), s.UpstreamSlice(), func(u *snapshot.Upstream) string { return u.Name },
			func(a, b *snapshot.Upstream) bool { return reflect.DeepEqual(a, b) })
	}
	bare := snapshottest.Flat(s) // as Translate has them, for comparisons
	bare.Changes = nil
	out.Snapshot = bare
	out.Ingresses = NewIngressResults(out.Ingresses.Slice()) // chunked as Translate chunks them
	return out
}

// checkUnlisted: every entry of prev or next whose name is not listed is
// in both, the same.
func checkUnlisted[T any](t *testing.T, what string, listed []string, prev, next []T, name func(*T) string, same func(a, b *T) bool) {
	t.Helper()
	byName := map[string]*T{}
	for i := range prev {
		byName[name(&prev[i])] = &prev[i]
	}
	for i := range next {
		n := name(&next[i])
		if p := byName[n]; !slices.Contains(listed, n) && (p == nil || !same(p, &next[i])) {
			t.Fatalf("%s %q changed but Changes do not list it", what, n)
		}
		delete(byName, n)
	}
	for n := range byName {
		if !slices.Contains(listed, n) {
			t.Fatalf("%s %q was removed but Changes do not list it", what, n)
		}
	}
}
