package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
	"github.com/baton-dev/baton/pkg/reconcile/gateway"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// sharedServiceInputs: one Service port used by an Ingress and by an
// HTTPRoute, and an HTTPRoute to a Service no Ingress uses.
func sharedServiceInputs() (translate.Input, gateway.Input) {
	class := "baton"
	svc := func(name string) (corev1.Service, discoveryv1.EndpointSlice) {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
			discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name + "-1",
				Labels: map[string]string{discoveryv1.LabelServiceName: name}}, AddressType: discoveryv1.AddressTypeIPv4,
				Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}}}}
	}
	web, webSlice := svc("web")
	api, apiSlice := svc("api")
	in := translate.Input{ControllerName: "baton.dev/ingress-controller",
		IngressClasses: []networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: class},
			Spec: networkingv1.IngressClassSpec{Controller: "baton.dev/ingress-controller"}}},
		Ingresses: []networkingv1.Ingress{{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "ing"},
			Spec: networkingv1.IngressSpec{IngressClassName: &class, DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}},
		Services: []corev1.Service{web, api}, EndpointSlices: []discoveryv1.EndpointSlice{webSlice, apiSlice}}
	ref := func(name string) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(name), Port: ptr.To(int32(80))}}}
	}
	gwIn := gateway.Input{AddressPool: netip.MustParsePrefix("10.9.0.0/24"), HTTPPorts: []int{80},
		Backends:       translate.NewResolver(in),
		GatewayClasses: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "gw"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: gateway.ControllerName}}},
		Gateways: []gatewayv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "gw"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "gw", Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}},
		HTTPRoutes: []gatewayv1.HTTPRoute{{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "r"}, Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
			Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{ref("web"), ref("api")}}}}}},
	}
	return in, gwIn
}

// TestGatewaysJoinTheIngressSnapshot: a Service port both an Ingress and
// an HTTPRoute use is one upstream (one pool, one health state); the
// combined snapshot keeps its upstreams sorted and unique, and the data
// plane takes it.
func TestGatewaysJoinTheIngressSnapshot(t *testing.T) {
	in, gwIn := sharedServiceInputs()
	out := translate.Translate(in)
	g := gateway.Translate(gwIn)
	ingressOnly := len(out.Snapshot.Upstreams)
	joined := joinGateways(out.Snapshot, &g)
	if len(out.Snapshot.Upstreams) != ingressOnly || out.Snapshot.Gateways != nil {
		t.Fatal("joining wrote into the Ingress snapshot, which the translate Cache hands out again")
	}
	out.Snapshot = joined
	var names []string
	for _, u := range out.Snapshot.UpstreamSlice() {
		names = append(names, u.Name)
	}
	if want := []string{"service/team/api/80", "service/team/web/80"}; !equalStrings(names, want) {
		t.Fatalf("upstreams %v, want %v", names, want)
	}
	if len(out.Snapshot.Gateways) != 1 || out.Snapshot.DefaultBackend == nil {
		t.Fatalf("snapshot lost a part: %+v", out.Snapshot)
	}
	if err := router.New(lb.NewRegistry(lb.RegistryOptions{}), nil).Check(out.Snapshot); err != nil {
		t.Fatalf("the data plane refuses the combined snapshot: %v", err)
	}
}

// TestIsolateKeepsGateways: a part refused elsewhere does not take the
// Gateways with it (restrict once dropped them all), and a Gateway route
// to a refused upstream is left out alone.
func TestIsolateKeepsGateways(t *testing.T) {
	in, gwIn := sharedServiceInputs()
	out := translate.Translate(in)
	g := gateway.Translate(gwIn)
	out.Snapshot = joinGateways(out.Snapshot, &g)
	refuse := func(s *snapshot.Snapshot) error {
		if s.DefaultBackend != nil {
			return errors.New("no default backend today")
		}
		return nil
	}
	good, rejected := isolate(out.Snapshot, refuse)
	if len(rejected) != 1 || rejected[0].part.kind != partDefaultBackend {
		t.Fatalf("rejected %+v", rejected)
	}
	if len(good.Gateways) != 1 || len(good.Gateways[0].Ports[0].Hosts) != 1 {
		t.Fatalf("the Gateway was dropped with the default backend: %+v", good.Gateways)
	}
	good, _ = isolate(out.Snapshot, refusing("service/team/api/80"))
	if len(good.Gateways) != 1 || len(good.Gateways[0].Ports[0].Hosts) != 0 {
		t.Fatalf("a Gateway route to a refused upstream was kept: %+v", good.Gateways)
	}
}

// TestOwnGatewayStatusWritesDoNotRebuild: the status Baton writes on
// routes and classes changes no snapshot; a Gateway's addresses do.
func TestOwnGatewayStatusWritesDoNotRebuild(t *testing.T) {
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1", Generation: 1}}
	routeStatus := route.DeepCopy()
	routeStatus.ResourceVersion = "2"
	routeStatus.Status.Parents = []gatewayv1.RouteParentStatus{{ControllerName: gateway.ControllerName}}
	if relevantUpdate(route, routeStatus) {
		t.Error("a route status write triggers a rebuild")
	}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1", Generation: 1}}
	withAddress := gw.DeepCopy()
	withAddress.ResourceVersion = "2"
	withAddress.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.9.0.1"}}
	if !relevantUpdate(gw, withAddress) {
		t.Error("a Gateway's new status address does not trigger a rebuild")
	}
}

// TestConfigMapTransformKeepsOnlyTheCA: only ca.crt of a ConfigMap is
// kept in memory.
func TestConfigMapTransformKeepsOnlyTheCA(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"ca.crt": "PEM", "password": "x"}, BinaryData: map[string][]byte{"b": nil}}
	got, _ := configMapTransform(cm)
	kept := got.(*corev1.ConfigMap)
	if len(kept.Data) != 1 || kept.Data["ca.crt"] != "PEM" || kept.BinaryData != nil {
		t.Fatalf("kept %+v", kept)
	}
}

// BenchmarkJoinGateways: n Ingress upstreams and n Gateway API ones whose
// names interleave, joined into one sorted list.
func BenchmarkJoinGateways(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := &snapshot.Snapshot{}
			g := &gateway.Output{}
			for i := range n {
				s.Upstreams = append(s.Upstreams, snapshot.Upstream{Name: fmt.Sprintf("service/team/svc-%06d-a/80", i)})
				g.Upstreams = append(g.Upstreams, snapshot.Upstream{Name: fmt.Sprintf("service/team/svc-%06d-b/80", i)})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if j := joinGateways(s, g); j.UpstreamCount() != 2*n {
					b.Fatalf("%d upstreams", j.UpstreamCount())
				}
			}
		})
	}
}

// TestMergeUpstreams: the extra upstreams a list lacks join it in name
// order, one of a name already there is left out, and the list given is
// not written.
func TestMergeUpstreams(t *testing.T) {
	names := func(ups []snapshot.Upstream) string {
		var s []string
		for _, u := range ups {
			s = append(s, u.Name)
		}
		return strings.Join(s, " ")
	}
	ups := func(names ...string) []snapshot.Upstream {
		var out []snapshot.Upstream
		for _, n := range names {
			out = append(out, snapshot.Upstream{Name: n})
		}
		return out
	}
	for _, tc := range []struct{ have, extra, want string }{
		{"b d", "a c e", "a b c d e"},
		{"b d", "b d", "b d"},
		{"", "a b", "a b"},
		{"a b", "", "a b"},
		{"a c", "b c d", "a b c d"},
	} {
		have := ups(strings.Fields(tc.have)...)
		before := names(have)
		if got := names(mergeUpstreams(have, ups(strings.Fields(tc.extra)...))); got != tc.want {
			t.Errorf("%q + %q = %q, want %q", tc.have, tc.extra, got, tc.want)
		}
		if names(have) != before {
			t.Errorf("%q was written: %q", before, names(have))
		}
	}
}

// listCounter is an object cache holding only GatewayClasses; it counts
// the lists of every other kind.
type listCounter struct {
	cache.Cache
	classes []gatewayv1.GatewayClass
	lists   map[string]int
}

func (l *listCounter) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	if classes, ok := list.(*gatewayv1.GatewayClassList); ok {
		classes.Items = l.classes
		return nil
	}
	l.lists[fmt.Sprintf("%T", list)]++
	return nil
}

// TestGatewaySideIdleWithoutAClassOfOurs: with the Gateway API installed
// for another implementation, a change costs no list of every object (at
// 10k Ingresses, a list and a Resolver of every Service per change);
// once a GatewayClass of ours appears, the Gateway side translates again.
func TestGatewaySideIdleWithoutAClassOfOurs(t *testing.T) {
	const ours = "baton.dev/gateway-controller"
	objects := &listCounter{lists: map[string]int{},
		classes: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "theirs"},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/other"}}}}
	c := &Controller{cache: objects, gatewayAPI: gatewayAPI{enabled: true}, opts: Options{GatewayControllerName: ours}}
	ingressLists := func() int { return objects.lists["*v1.IngressList"] }
	s := &snapshot.Snapshot{Version: 1}
	for range 3 {
		got, out, err := c.withGateways(context.Background(), s)
		if err != nil || len(got.Gateways) != 0 || !out.Empty() {
			t.Fatalf("with no class of ours: Gateways %v, output %+v, %v", got.Gateways, out, err)
		}
	}
	if n := ingressLists(); n != 1 {
		t.Fatalf("3 changes with no GatewayClass of ours listed every Ingress %d times, want once (the first)", n)
	}
	objects.classes = append(objects.classes, gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "baton"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: ours}})
	if _, out, err := c.withGateways(context.Background(), s); err != nil || len(out.Classes) != 1 {
		t.Fatalf("a class of ours appeared: classes %+v, %v", out.Classes, err)
	}
	if n := ingressLists(); n != 2 {
		t.Fatalf("a class of ours appeared and the Gateway side did not translate (Ingress lists %d, want 2)", n)
	}
}

// Get finds no object (every changed key reads as deleted) and counts.
func (l *listCounter) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	l.lists[fmt.Sprintf("get %T", obj)]++
	return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
}

// TestGatewaySideReadsOnlyChangedObjects: once a GatewayClass of ours
// exists, a change reads the objects whose keys the informers reported
// and lists nothing (28fe60b listed every Ingress-side and Gateway API
// object, and indexed every Service, on each change).
func TestGatewaySideReadsOnlyChangedObjects(t *testing.T) {
	const ours = "baton.dev/gateway-controller"
	objects := &listCounter{lists: map[string]int{}, classes: []gatewayv1.GatewayClass{{
		ObjectMeta: metav1.ObjectMeta{Name: "baton", ResourceVersion: "1"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: ours}}}}
	c := &Controller{cache: objects, gatewayAPI: gatewayAPI{enabled: true}, opts: Options{GatewayControllerName: ours}}
	s := &snapshot.Snapshot{Version: 1}
	if _, _, err := c.withGateways(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	before := maps.Clone(objects.lists)
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "r"}}
	c.gatewayChanged.add(kindOf(route), route)
	if _, out, err := c.withGateways(context.Background(), s); err != nil || len(out.Classes) != 1 {
		t.Fatalf("classes %+v, %v", out, err)
	}
	for kind, n := range objects.lists {
		if kind != "get *v1.HTTPRoute" && n != before[kind] {
			t.Errorf("a route's change listed %s %d more times", kind, n-before[kind])
		}
	}
	if n := objects.lists["get *v1.HTTPRoute"]; n != 1 {
		t.Errorf("the changed route was read %d times, want once", n)
	}
}
