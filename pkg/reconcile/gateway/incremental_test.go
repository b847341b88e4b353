package gateway

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// TestCacheLooksOnlyAtWhatChanged: among 40 routes on four Gateways (10
// each), a change looks only at the routes it can affect: none of the
// others is even checked for reuse, and a Gateway's change does not
// rebuild the other Gateways. The output still equals Translate's.
func TestCacheLooksOnlyAtWhatChanged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(in *Input, b *translate.Input)
		reused  int // routes looked at and kept
		rebuild bool
	}{
		{"one route's path", func(in *Input, _ *translate.Input) {
			r := &in.HTTPRoutes[5]
			r.ResourceVersion = "2"
			r.Spec.Rules[0].Matches = []gatewayv1.HTTPRouteMatch{pathMatchOf(gatewayv1.PathMatchExact, "/changed")}
		}, 0, false},
		{"one route's backend slice", func(_ *Input, b *translate.Input) {
			s := &b.EndpointSlices[7]
			s.ResourceVersion = "2"
			s.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.3.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}}
		}, 0, false},
		{"one route deleted", func(in *Input, _ *translate.Input) {
			in.HTTPRoutes = append(in.HTTPRoutes[:3:3], in.HTTPRoutes[4:]...)
		}, 0, false},
		{"one Gateway's listeners", func(in *Input, _ *translate.Input) {
			g := &in.Gateways[1]
			g.ResourceVersion = "2"
			g.Spec.Listeners = append(g.Spec.Listeners[:1:1], gatewayv1.Listener{Name: "extra", Protocol: gatewayv1.HTTPProtocolType, Port: 8080})
		}, 10, false},
		{"a Namespace", func(in *Input, _ *translate.Input) {
			in.Namespaces = append(in.Namespaces, stamp(namespace("team", nil), "ns", "1").(corev1.Namespace))
		}, 40, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flat := flatten(fewGatewayObjects(40))
			for i, o := range flat {
				flat[i] = stamp(o, fmt.Sprint("uid-", i), "1")
			}
			in, backends := inputAndBackends(flat...)
			c := NewCache()
			c.Translate(in, &backends)
			reused, rebuilds := c.memo.reused, c.rebuilds
			tc.change(&in, &backends)
			got := c.Translate(in, &backends)
			in.Backends = translate.NewResolver(backends)
			mustEqualJSON(t, "output", got, Translate(in))
			if n := c.memo.reused - reused; n != tc.reused {
				t.Errorf("%d routes were looked at and reused, want %d", n, tc.reused)
			}
			if rebuilt := c.rebuilds > rebuilds; rebuilt != tc.rebuild {
				t.Errorf("every Gateway rebuilt: %v, want %v", rebuilt, tc.rebuild)
			}
		})
	}
}

// TestStoreBackendsResolveAsResolver: the Cache's own lookups, one
// Service or Secret at a time, answer as a Resolver of every object does,
// before and after objects an Upstream reads change.
func TestStoreBackendsResolveAsResolver(t *testing.T) {
	a := service("team", "a", "")
	a2 := a[1].(discoveryv1.EndpointSlice)
	a2.Name, a2.Endpoints = "a-2", []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}}
	orphan := service("team", "gone", "")[1]
	viaService := v1alpha1.Upstream{ObjectMeta: meta("team", "u", 0), Spec: v1alpha1.UpstreamSpec{
		ServiceRef: &v1alpha1.ServiceRef{Name: "a", Port: v1alpha1.ServicePort{Number: 80}}}}
	withCA := v1alpha1.Upstream{ObjectMeta: meta("team", "v", 0), Spec: v1alpha1.UpstreamSpec{Protocol: v1alpha1.ProtocolHTTPS,
		Endpoints: []v1alpha1.StaticEndpoint{{Address: "10.2.0.1", Port: 443}},
		TLS:       &v1alpha1.UpstreamTLS{CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca", Key: "ca.crt"}}}}
	ca := corev1.Secret{ObjectMeta: meta("team", "ca", 0), Data: map[string][]byte{"ca.crt": testCert.CertPEM}}
	objs := flatten([]any{a, a2, service("team", "b", "h2c"), service("team", "c", "")[0], orphan,
		viaService, withCA, tlsSecret("team", "cert"), ca})
	for i, o := range objs {
		objs[i] = stamp(o, fmt.Sprint("uid-", i), "1")
	}
	_, backends := inputAndBackends(objs...)
	s := newStore(false)
	s.diffAndApply(&backends)
	compareLookups(t, "at first", s.backends, translate.NewResolver(backends))

	backends.EndpointSlices = backends.EndpointSlices[:1] // a-2 and the others gone
	backends.Secrets[1].ResourceVersion = "2"
	backends.Secrets[1].Data = map[string][]byte{"ca.crt": []byte("junk")}
	s.backends.endCall()
	s.diffAndApply(&backends)
	compareLookups(t, "after changes", s.backends, translate.NewResolver(backends))
}

// diffAndApply takes in backends' objects as a Cache would.
func (s *store) diffAndApply(backends *translate.Input) {
	ch := s.diff(&Input{}, backends)
	s.apply(&ch)
}

func compareLookups(t *testing.T, when string, got *storeBackends, want *translate.Resolver) {
	t.Helper()
	for _, name := range []string{"a", "b", "c", "gone", "missing"} {
		key := types.NamespacedName{Namespace: "team", Name: name}
		for _, port := range []int32{80, 81} {
			up, failed, extra := got.Service(key, port)
			wantUp, wantFailed, wantExtra := want.Service(key, port)
			mustEqualJSON(t, fmt.Sprintf("%s: Service %s port %d", when, key, port), []any{up, failed, extra}, []any{wantUp, wantFailed, wantExtra})
			sp, ok := got.ServicePort(key, port)
			wantSP, wantOK := want.ServicePort(key, port)
			mustEqualJSON(t, fmt.Sprintf("%s: ServicePort %s %d", when, key, port), []any{sp, ok}, []any{wantSP, wantOK})
		}
	}
	for _, name := range []string{"u", "v", "missing"} {
		key := types.NamespacedName{Namespace: "team", Name: name}
		up, found, notReady := got.Upstream(key)
		wantUp, wantFound, wantNotReady := want.Upstream(key)
		mustEqualJSON(t, when+": Upstream "+name, []any{up, found, notReady}, []any{wantUp, wantFound, wantNotReady})
	}
	for _, name := range []string{"cert", "ca", "missing"} {
		key := types.NamespacedName{Namespace: "team", Name: name}
		cert, w := got.Certificate(key)
		wantCert, wantW := want.Certificate(key)
		mustEqualJSON(t, when+": Certificate "+name, []any{cert, w}, []any{wantCert, wantW})
		pem, w := got.CA(key, "")
		wantPEM, wantW := want.CA(key, "")
		mustEqualJSON(t, when+": CA "+name, []any{pem, w}, []any{wantPEM, wantW})
	}
}

// TestPatchHost: a host's VirtualHost is replaced, inserted in name
// order or removed; the others stay.
func TestPatchHost(t *testing.T) {
	vh := func(names ...string) []snapshot.VirtualHost {
		var out []snapshot.VirtualHost
		for _, n := range names {
			out = append(out, snapshot.VirtualHost{Name: n})
		}
		return out
	}
	changed := snapshot.VirtualHost{Name: "b", Routes: []snapshot.Route{{Path: "/new"}}}
	for _, tc := range []struct {
		name  string
		hosts []snapshot.VirtualHost
		host  string
		v     snapshot.VirtualHost
		ok    bool
		want  []snapshot.VirtualHost
	}{
		{"replaced", vh("a", "b", "c"), "b", changed, true, []snapshot.VirtualHost{{Name: "a"}, changed, {Name: "c"}}},
		{"inserted", vh("a", "c"), "b", changed, true, []snapshot.VirtualHost{{Name: "a"}, changed, {Name: "c"}}},
		{"inserted first", vh("c"), "b", changed, true, []snapshot.VirtualHost{changed, {Name: "c"}}},
		{"removed", vh("a", "b", "c"), "b", snapshot.VirtualHost{}, false, vh("a", "c")},
		{"absent stays absent", vh("a", "c"), "b", snapshot.VirtualHost{}, false, vh("a", "c")},
		{"the empty name (any host) sorts first", vh("a"), "", snapshot.VirtualHost{}, true, vh("", "a")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := patchHost(tc.hosts, tc.host, func() (snapshot.VirtualHost, bool) { return tc.v, tc.ok })
			mustEqualJSON(t, "hosts", got, tc.want)
		})
	}
}

// TestCacheForgetsDeletedObjects: once every object is deleted, the
// Cache holds nothing of them: no object, version, index entry or route.
func TestCacheForgetsDeletedObjects(t *testing.T) {
	w := newWorld()
	rng := rand.New(rand.NewPCG(3, 4))
	c := NewCache()
	for range 30 {
		w.change(rng)
		in, backends := inputAndBackends(w.objects()...)
		c.Translate(in, &backends)
	}
	in, backends := inputAndBackends()
	in.GatewayClasses = nil
	c.Translate(in, &backends)
	s, b := c.store, c.store.backends
	for what, n := range map[string]int{
		"classes": len(s.classes), "gateways": len(s.gateways), "HTTPRoutes": len(s.http), "GRPCRoutes": len(s.grpc),
		"grants": len(s.grants), "policies": len(s.policies), "namespaces": len(s.namespaces), "ConfigMaps": len(s.configMaps),
		"parent index": len(s.naming), "Services": len(b.services), "slices": len(b.slices), "slices by Service": len(b.slicesOf),
		"Secrets": len(b.secrets), "Upstreams": len(b.upstreams), "Service versions": len(s.versions.services),
		"Secret versions": len(s.versions.secrets), "ConfigMap versions": len(s.versions.configMaps),
		"kept routes": len(c.memo.routes), "dependents": len(c.memo.dependents), "route outputs": len(c.out.routes),
		"attachments": len(c.out.attached), "upstreams": len(c.out.upstreams),
	} {
		if n != 0 {
			t.Errorf("%d %s left", n, what)
		}
	}
}
