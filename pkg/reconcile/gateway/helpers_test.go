package gateway

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
	"github.com/baton-dev/baton/pkg/lb"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

const ourClass = "baton"

var (
	epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pool  = netip.MustParsePrefix("10.9.0.0/24")
	// testCert serves *.example.com; Translate only checks it parses.
	testCert = mustCert()
)

func mustCert() snapshot.Certificate {
	c, err := snapshottest.SelfSigned("gw", "*.example.com", "example.com")
	if err != nil {
		panic(err)
	}
	return c
}

func meta(ns, name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 3,
		CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Second))}
}

func ptr[T any](v T) *T { return &v }

// --- GatewayClass and Gateway ---

func class(name string, ctrl gatewayv1.GatewayController) gatewayv1.GatewayClass {
	return gatewayv1.GatewayClass{ObjectMeta: meta("", name, 0), Spec: gatewayv1.GatewayClassSpec{ControllerName: ctrl}}
}

type gwOption func(*gatewayv1.Gateway)

// gw is a Gateway of our class created age seconds after epoch.
func gw(ns, name string, age int, opts ...gwOption) gatewayv1.Gateway {
	g := gatewayv1.Gateway{ObjectMeta: meta(ns, name, age), Spec: gatewayv1.GatewaySpec{GatewayClassName: ourClass}}
	for _, o := range opts {
		o(&g)
	}
	return g
}

func gwClass(name string) gwOption {
	return func(g *gatewayv1.Gateway) { g.Spec.GatewayClassName = gatewayv1.ObjectName(name) }
}

func specAddress(ip string) gwOption {
	return func(g *gatewayv1.Gateway) {
		g.Spec.Addresses = append(g.Spec.Addresses, gatewayv1.GatewaySpecAddress{Type: ptr(gatewayv1.IPAddressType), Value: ip})
	}
}

func statusAddress(ip string) gwOption {
	return func(g *gatewayv1.Gateway) {
		g.Status.Addresses = append(g.Status.Addresses, gatewayv1.GatewayStatusAddress{Type: ptr(gatewayv1.IPAddressType), Value: ip})
	}
}

type listenerOption func(*gatewayv1.Listener)

func listenerOf(name string, proto gatewayv1.ProtocolType, port int32, opts ...listenerOption) gwOption {
	return func(g *gatewayv1.Gateway) {
		l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Protocol: proto, Port: port}
		for _, o := range opts {
			o(&l)
		}
		g.Spec.Listeners = append(g.Spec.Listeners, l)
	}
}

func httpListener(name string, port int32, opts ...listenerOption) gwOption {
	return listenerOf(name, gatewayv1.HTTPProtocolType, port, opts...)
}

// httpsListener terminates TLS with the Secret certs ("ns/name" or "name").
func httpsListener(name string, port int32, certs []gatewayv1.SecretObjectReference, opts ...listenerOption) gwOption {
	opts = append([]listenerOption{func(l *gatewayv1.Listener) {
		l.TLS = &gatewayv1.ListenerTLSConfig{Mode: ptr(gatewayv1.TLSModeTerminate), CertificateRefs: certs}
	}}, opts...)
	return listenerOf(name, gatewayv1.HTTPSProtocolType, port, opts...)
}

func secretRef(ns, name string) gatewayv1.SecretObjectReference {
	r := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(name)}
	if ns != "" {
		r.Namespace = ptr(gatewayv1.Namespace(ns))
	}
	return r
}

func hostname(h string) listenerOption {
	return func(l *gatewayv1.Listener) { l.Hostname = ptr(gatewayv1.Hostname(h)) }
}

func allowFrom(from gatewayv1.FromNamespaces, selector map[string]string) listenerOption {
	return func(l *gatewayv1.Listener) {
		if l.AllowedRoutes == nil {
			l.AllowedRoutes = &gatewayv1.AllowedRoutes{}
		}
		l.AllowedRoutes.Namespaces = &gatewayv1.RouteNamespaces{From: &from}
		if selector != nil {
			l.AllowedRoutes.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: selector}
		}
	}
}

func allowKinds(kinds ...gatewayv1.Kind) listenerOption {
	return func(l *gatewayv1.Listener) {
		if l.AllowedRoutes == nil {
			l.AllowedRoutes = &gatewayv1.AllowedRoutes{}
		}
		for _, k := range kinds {
			l.AllowedRoutes.Kinds = append(l.AllowedRoutes.Kinds, gatewayv1.RouteGroupKind{Kind: k})
		}
	}
}

// --- routes ---

type routeOption func(*gatewayv1.HTTPRoute)

func httpRoute(ns, name string, age int, opts ...routeOption) gatewayv1.HTTPRoute {
	r := gatewayv1.HTTPRoute{ObjectMeta: meta(ns, name, age)}
	for _, o := range opts {
		o(&r)
	}
	return r
}

type parentOption func(*gatewayv1.ParentReference)

// parent names a Gateway as "ns/name" or "name" (the route's namespace).
func parent(name string, opts ...parentOption) routeOption {
	return func(r *gatewayv1.HTTPRoute) { r.Spec.ParentRefs = append(r.Spec.ParentRefs, parentRef(name, opts...)) }
}

func parentRef(name string, opts ...parentOption) gatewayv1.ParentReference {
	key := splitKey(name)
	p := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(key.Name)}
	if key.Namespace != "" {
		p.Namespace = ptr(gatewayv1.Namespace(key.Namespace))
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func section(s string) parentOption {
	return func(p *gatewayv1.ParentReference) { p.SectionName = ptr(gatewayv1.SectionName(s)) }
}

func onPort(port int32) parentOption {
	return func(p *gatewayv1.ParentReference) { p.Port = &port }
}

func hostnames(hs ...string) routeOption {
	return func(r *gatewayv1.HTTPRoute) {
		for _, h := range hs {
			r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(h))
		}
	}
}

type ruleOption func(*gatewayv1.HTTPRouteRule)

func rule(opts ...ruleOption) routeOption {
	return func(r *gatewayv1.HTTPRoute) {
		var rr gatewayv1.HTTPRouteRule
		for _, o := range opts {
			o(&rr)
		}
		r.Spec.Rules = append(r.Spec.Rules, rr)
	}
}

func match(m gatewayv1.HTTPRouteMatch) ruleOption {
	return func(r *gatewayv1.HTTPRouteRule) { r.Matches = append(r.Matches, m) }
}

func pathMatchOf(typ gatewayv1.PathMatchType, v string) gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: &typ, Value: &v}}
}

func filter(f gatewayv1.HTTPRouteFilter) ruleOption {
	return func(r *gatewayv1.HTTPRouteRule) { r.Filters = append(r.Filters, f) }
}

func backendTo(ref gatewayv1.BackendRef) ruleOption {
	return func(r *gatewayv1.HTTPRouteRule) {
		r.BackendRefs = append(r.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: ref})
	}
}

// svcRef is a backendRef to a Service, "ns/name" or "name".
func svcRef(name string, port int32) gatewayv1.BackendRef {
	key := splitKey(name)
	r := gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(key.Name), Port: &port}}
	if key.Namespace != "" {
		r.Namespace = ptr(gatewayv1.Namespace(key.Namespace))
	}
	return r
}

func weighted(ref gatewayv1.BackendRef, w int32) gatewayv1.BackendRef {
	ref.Weight = &w
	return ref
}

func kindRef(group, kind, name string) gatewayv1.BackendRef {
	return gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Group: ptr(gatewayv1.Group(group)), Kind: ptr(gatewayv1.Kind(kind)), Name: gatewayv1.ObjectName(name)}}
}

func splitKey(s string) types.NamespacedName {
	for i := range len(s) {
		if s[i] == '/' {
			return types.NamespacedName{Namespace: s[:i], Name: s[i+1:]}
		}
	}
	return types.NamespacedName{Name: s}
}

// grant lets fromKind objects of fromNS use toKind objects of ns.
func grant(ns, fromKind, fromNS, toGroup, toKind string) gatewayv1.ReferenceGrant {
	return gatewayv1.ReferenceGrant{ObjectMeta: meta(ns, "grant-"+fromNS, 0), Spec: gatewayv1.ReferenceGrantSpec{
		From: []gatewayv1.ReferenceGrantFrom{{Group: Group, Kind: gatewayv1.Kind(fromKind), Namespace: gatewayv1.Namespace(fromNS)}},
		To:   []gatewayv1.ReferenceGrantTo{{Group: gatewayv1.Group(toGroup), Kind: gatewayv1.Kind(toKind)}},
	}}
}

// --- core objects ---

// service has one TCP port 80 (targetPort 8080) with one ready endpoint.
func service(ns, name string, appProtocol string) []any {
	port := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	if appProtocol != "" {
		port.AppProtocol = &appProtocol
	}
	svc := corev1.Service{ObjectMeta: meta(ns, name, 0), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{port}}}
	slice := discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
	}
	return []any{svc, slice}
}

func tlsSecret(ns, name string) corev1.Secret {
	return corev1.Secret{ObjectMeta: meta(ns, name, 0), Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: testCert.CertPEM, corev1.TLSPrivateKeyKey: testCert.KeyPEM}}
}

func namespace(name string, labels map[string]string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// input builds an Input from objects of any supported kind, with our
// class, the test pool and ports 80, 8080 (HTTP) and 443 (HTTPS).
func input(objs ...any) Input {
	in, _ := inputAndBackends(objs...)
	return in
}

// inputAndBackends is input and the objects its Backends resolve from.
// Our class is versioned, so that a Cache can tell it did not change.
func inputAndBackends(objs ...any) (Input, translate.Input) {
	in := Input{AddressPool: pool, HTTPPorts: []int{80, 8080}, HTTPSPorts: []int{443},
		GatewayClasses: []gatewayv1.GatewayClass{stamp(class(ourClass, ControllerName), "our-class", "1").(gatewayv1.GatewayClass)}}
	var res translate.Input
	for _, o := range flatten(objs) {
		switch o := o.(type) {
		case gatewayv1.GatewayClass:
			in.GatewayClasses = append(in.GatewayClasses, o)
		case gatewayv1.Gateway:
			in.Gateways = append(in.Gateways, o)
		case gatewayv1.HTTPRoute:
			in.HTTPRoutes = append(in.HTTPRoutes, o)
		case gatewayv1.GRPCRoute:
			in.GRPCRoutes = append(in.GRPCRoutes, o)
		case gatewayv1.ReferenceGrant:
			in.ReferenceGrants = append(in.ReferenceGrants, o)
		case gatewayv1.BackendTLSPolicy:
			in.BackendTLSPolicies = append(in.BackendTLSPolicies, o)
		case corev1.Namespace:
			in.Namespaces = append(in.Namespaces, o)
		case corev1.ConfigMap:
			in.ConfigMaps = append(in.ConfigMaps, o)
		case corev1.Service:
			res.Services = append(res.Services, o)
		case discoveryv1.EndpointSlice:
			res.EndpointSlices = append(res.EndpointSlices, o)
		case corev1.Secret:
			res.Secrets = append(res.Secrets, o)
		case v1alpha1.Upstream:
			res.Upstreams = append(res.Upstreams, o)
		default:
			panic("input: unsupported object")
		}
	}
	in.Backends = translate.NewResolver(res)
	return in, res
}

func flatten(objs []any) []any {
	var out []any
	for _, o := range objs {
		if list, ok := o.([]any); ok {
			out = append(out, flatten(list)...)
		} else {
			out = append(out, o)
		}
	}
	return out
}

// --- looking at the output ---

// dataPlaneCheck refuses what the data plane's Apply would refuse.
func dataPlaneCheck(t *testing.T, out Output) {
	t.Helper()
	s := &snapshot.Snapshot{Gateways: out.Gateways, Upstreams: out.Upstreams}
	if err := router.New(lb.NewRegistry(lb.RegistryOptions{}), nil).Check(s); err != nil {
		t.Fatalf("the data plane refuses what the gateway translation built: %v", err)
	}
}

func gatewayStatus(t *testing.T, out Output, key string) gatewayv1.GatewayStatus {
	t.Helper()
	for _, r := range out.GatewayStatuses {
		if r.Key.String() == key {
			return r.Status
		}
	}
	t.Fatalf("no status for Gateway %s", key)
	return gatewayv1.GatewayStatus{}
}

func listenerStatus(t *testing.T, out Output, key, name string) gatewayv1.ListenerStatus {
	t.Helper()
	for _, l := range gatewayStatus(t, out, key).Listeners {
		if string(l.Name) == name {
			return l
		}
	}
	t.Fatalf("no status for listener %s of %s", name, key)
	return gatewayv1.ListenerStatus{}
}

// parentStatus is the first of our parent entries of an HTTPRoute.
func parentStatus(t *testing.T, out Output, key string) gatewayv1.RouteParentStatus {
	t.Helper()
	for _, r := range append(out.HTTPRoutes, out.GRPCRoutes...) {
		if r.Key.String() == key && len(r.Parents) > 0 {
			return r.Parents[0]
		}
	}
	t.Fatalf("no parent status for route %s", key)
	return gatewayv1.RouteParentStatus{}
}

// reasonOf is "Status/Reason" of the condition typ, or "" when absent.
func reasonOf[T ~string](cs []metav1.Condition, typ T) string {
	for _, c := range cs {
		if c.Type == string(typ) {
			return string(c.Status) + "/" + c.Reason
		}
	}
	return ""
}

// routesOf returns the routes of host on port of Gateway key.
func routesOf(out Output, key string, port int, host string) []snapshot.Route {
	for _, g := range out.Gateways {
		if g.Name != key {
			continue
		}
		for _, p := range g.Ports {
			if p.Port != port {
				continue
			}
			for _, vh := range p.Hosts {
				if vh.Name == host {
					return vh.Routes
				}
			}
		}
	}
	return nil
}

func mustEqualJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) != string(w) {
		t.Fatalf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}
