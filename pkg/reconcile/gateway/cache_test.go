package gateway

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// TestCacheEqualsTranslate: over random sequences of changes (add,
// update, delete of Gateways, routes, grants, Services and their slices,
// Upstreams, policies, CA ConfigMaps, listener Secrets, GatewayClasses, Namespace
// labels), the Cache's
// output, snapshot part and statuses, equals Translate's of the same
// input; and the Cache does reuse routes and does keep the Gateways
// between calls, or it would prove nothing.
func TestCacheEqualsTranslate(t *testing.T) {
	reused, calls, rebuilds := 0, 0, 0
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		w := newWorld()
		c := NewCache()
		for step := range 40 {
			for range 1 + rng.IntN(3) {
				w.change(rng)
			}
			in, backends := inputAndBackends(w.objects()...)
			want, got := Translate(in), c.Translate(in, &backends)
			if g, wa := mustJSON(got), mustJSON(want); g != wa {
				t.Fatalf("seed %d step %d: incremental and full translations differ\ngot  %s\nwant %s", seed, step, g, wa)
			}
		}
		reused += c.memo.reused
		calls, rebuilds = calls+40, rebuilds+c.rebuilds
	}
	if reused == 0 {
		t.Fatal("the Cache never reused a route")
	}
	if rebuilds == calls || rebuilds == 0 {
		t.Fatalf("the Cache rebuilt every Gateway in %d calls of %d: both ways must be tested", rebuilds, calls)
	}
}

// TestCacheWithoutVersions: objects without a resourceVersion are
// translated afresh on every call, so an unversioned change is seen.
func TestCacheWithoutVersions(t *testing.T) {
	c := NewCache()
	route := httpRoute("team", "r", 0, parent("gw"), rule(backendTo(svcRef("web", 80))))
	objs := []any{gw("team", "gw", 0, httpListener("http", 80)), route, service("team", "web", "")}
	in, backends := inputAndBackends(objs...)
	c.Translate(in, &backends)
	in, backends = inputAndBackends(objs[:2]...) // the Service is gone
	got := c.Translate(in, &backends)
	if reason := reasonOf(got.HTTPRoutes[0].Parents[0].Conditions, gatewayv1.RouteConditionResolvedRefs); reason != "False/"+string(gatewayv1.RouteReasonBackendNotFound) {
		t.Fatalf("ResolvedRefs %s after the Service was deleted", reason)
	}
	if c.memo.reused != 0 {
		t.Fatalf("reused %d unversioned routes", c.memo.reused)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// world is a small cluster whose objects (slots) change at random; each
// slot's variants are what it may change to, nil meaning deleted.
type world struct {
	slots []*slot
}

type slot struct {
	variants func(rng *rand.Rand) any
	obj      any
	uid, rv  int
}

func (w *world) add(variants func(rng *rand.Rand) any) {
	w.slots = append(w.slots, &slot{variants: variants})
}

// change sets one slot to a random variant, with a new resourceVersion,
// and a new UID when it is created again.
func (w *world) change(rng *rand.Rand) {
	s := w.slots[rng.IntN(len(w.slots))]
	next := s.variants(rng)
	if s.obj == nil || next == nil {
		s.uid++
	}
	s.rv++
	s.obj = next
}

func (w *world) objects() []any {
	var out []any
	for i, s := range w.slots {
		if s.obj != nil {
			out = append(out, stamp(s.obj, fmt.Sprintf("uid-%d-%d", i, s.uid), fmt.Sprint(s.rv)))
		}
	}
	return out
}

// stamp is a copy of obj (or of each object of a list) with uid and rv.
func stamp(obj any, uid, rv string) any {
	if list, ok := obj.([]any); ok {
		var out []any
		for i, o := range list {
			out = append(out, stamp(o, fmt.Sprintf("%s-%d", uid, i), rv))
		}
		return out
	}
	p := reflect.New(reflect.TypeOf(obj))
	p.Elem().Set(reflect.ValueOf(obj))
	m := p.Interface().(metav1.Object)
	m.SetUID(types.UID(uid))
	m.SetResourceVersion(rv)
	return p.Elem().Interface()
}

func pick[T any](rng *rand.Rand, options ...T) T { return options[rng.IntN(len(options))] }

// maybe is f's object or, one time in four, nil (deleted).
func maybe(f func(rng *rand.Rand) any) func(rng *rand.Rand) any {
	return func(rng *rand.Rand) any {
		if rng.IntN(4) == 0 {
			return nil
		}
		return f(rng)
	}
}

func newWorld() *world {
	w := &world{}
	w.add(maybe(func(rng *rand.Rand) any { return randomGateway(rng, "team", "gw") }))
	w.add(maybe(func(rng *rand.Rand) any { return randomGateway(rng, "other", "gw2") }))
	for i := range 8 {
		ns := pick(rng0(i), "team", "other")
		w.add(maybe(func(rng *rand.Rand) any { return randomRoute(rng, ns, fmt.Sprintf("r%d", i)) }))
	}
	for i := range 2 {
		w.add(maybe(func(rng *rand.Rand) any { return randomGRPCRoute(rng, fmt.Sprintf("g%d", i)) }))
	}
	for _, key := range []string{"team/web", "team/api", "other/web"} {
		k := splitKey(key)
		w.add(maybe(func(rng *rand.Rand) any { return randomService(rng, k.Namespace, k.Name) }))
		w.add(maybe(func(rng *rand.Rand) any { return randomSlice(rng, k.Namespace, k.Name) }))
	}
	w.add(maybe(func(rng *rand.Rand) any { return grant("team", "HTTPRoute", "other", "", "Service") }))
	w.add(maybe(func(rng *rand.Rand) any {
		g := grant("team", "GRPCRoute", "other", "", "Service")
		g.Name += "-grpc" // one key, one object, as in a cluster
		return g
	}))
	w.add(maybe(func(rng *rand.Rand) any {
		p := tlsPolicy("p", rng.IntN(2), pick(rng, "ca", "nope"))
		p.Spec.Validation.CACertificateRefs[0].Kind = pick[gatewayv1.Kind](rng, "ConfigMap", "Secret")
		return p
	}))
	w.add(maybe(caSecret))
	w.add(maybe(func(rng *rand.Rand) any {
		return corev1.ConfigMap{ObjectMeta: meta("team", "ca", 0), Data: map[string]string{"ca.crt": pick(rng, string(testCert.CertPEM), "junk")}}
	}))
	w.add(maybe(func(rng *rand.Rand) any { return randomUpstream(rng) }))
	w.add(maybe(func(*rand.Rand) any { return tlsSecret("team", "cert") }))
	w.add(maybe(func(rng *rand.Rand) any { return class("second", pick(rng, ControllerName, "someone.else/gateway")) }))
	for _, ns := range []string{"team", "other"} {
		w.add(func(rng *rand.Rand) any {
			return namespace(ns, pick(rng, map[string]string{}, map[string]string{"gw": "yes"}))
		})
	}
	return w
}

// rng0 spreads fixed choices over slots the same way in every run.
func rng0(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 1)) }

func randomGateway(rng *rand.Rand, ns, name string) any {
	var ls []listenerOption
	switch rng.IntN(4) {
	case 1:
		ls = append(ls, allowFrom(gatewayv1.NamespacesFromAll, nil))
	case 2:
		ls = append(ls, allowFrom(gatewayv1.NamespacesFromSelector, map[string]string{"gw": "yes"}))
	case 3:
		ls = append(ls, allowFrom(gatewayv1.NamespacesFromAll, nil), hostname("*.example.com"))
	}
	opts := []gwOption{httpListener("http", 80, ls...)}
	if rng.IntN(2) == 0 {
		opts = append(opts, httpListener("alt", pick[int32](rng, 8080, 81), allowFrom(gatewayv1.NamespacesFromAll, nil)))
	}
	if rng.IntN(2) == 0 {
		opts = append(opts, httpsListener("tls", 443, []gatewayv1.SecretObjectReference{secretRef("team", "cert")},
			allowFrom(gatewayv1.NamespacesFromAll, nil)))
	}
	g := gw(ns, name, rng.IntN(2), opts...)
	g.Spec.GatewayClassName = pick[gatewayv1.ObjectName](rng, ourClass, ourClass, "second")
	return g
}

func randomRoute(rng *rand.Rand, ns, name string) any {
	opts := []routeOption{parent(pick(rng, "team/gw", "other/gw2", "team/nope"))}
	if rng.IntN(3) == 0 {
		opts = append(opts, parent("team/gw", section("alt")))
	}
	if rng.IntN(2) == 0 {
		opts = append(opts, hostnames(pick(rng, "a.example.com", "b.example.com", "*.example.com", "c.other.org")))
	}
	var rules []ruleOption
	for range 1 + rng.IntN(2) {
		rules = append(rules, match(pathMatchOf(pick(rng, gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchExact),
			pick(rng, "/", "/a", "/b"))))
	}
	rules = append(rules, backendTo(randomBackend(rng)))
	if rng.IntN(3) == 0 {
		rules = append(rules, backendTo(weighted(randomBackend(rng), 2)))
	}
	if rng.IntN(5) == 0 {
		rules = append(rules, filter(gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestMirror,
			RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: randomBackend(rng).BackendObjectReference}}))
	}
	if rng.IntN(6) == 0 { // dropped: ReplacePrefixMatch needs a PathPrefix match
		rules = append(rules, match(pathMatchOf(gatewayv1.PathMatchExact, "/x")), filter(gatewayv1.HTTPRouteFilter{
			Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
				Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr("/y")}}}))
	}
	opts = append(opts, rule(rules...))
	if rng.IntN(3) == 0 {
		opts = append(opts, rule(match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/second")), backendTo(randomBackend(rng))))
	}
	return httpRoute(ns, name, rng.IntN(3), opts...)
}

func randomBackend(rng *rand.Rand) gatewayv1.BackendRef {
	switch rng.IntN(6) {
	case 0:
		return kindRef(v1alpha1.GroupName, v1alpha1.UpstreamKind, "pool")
	case 1:
		return svcRef("team/web", 80)
	}
	return svcRef(pick(rng, "web", "api"), pick[int32](rng, 80, 80, 81))
}

func randomGRPCRoute(rng *rand.Rand, name string) any {
	ns := pick(rng, "team", "other")
	r := grpcRoute(ns, name, []gatewayv1.GRPCRouteMatch{methodMatch(gatewayv1.GRPCMethodMatchExact, "pkg.Svc", pick(rng, "", "Get"))},
		pick(rng, svcRef("web", 80), svcRef("team/web", 80), kindRef(v1alpha1.GroupName, v1alpha1.UpstreamKind, "pool")))
	r.Spec.ParentRefs = []gatewayv1.ParentReference{parentRef(pick(rng, "team/gw", "other/gw2"))}
	r.CreationTimestamp = metav1.NewTime(epoch.Add(-1))
	return r
}

// randomService is a Service whose appProtocol varies.
func randomService(rng *rand.Rand, ns, name string) any {
	return service(ns, name, pick(rng, "", "", "kubernetes.io/h2c", "https", "mystery"))[0]
}

// randomSlice is the Service's EndpointSlice with one of two addresses.
func randomSlice(rng *rand.Rand, ns, name string) any {
	slice := service(ns, name, "")[1].(discoveryv1.EndpointSlice)
	slice.Endpoints = slices.Clone(slice.Endpoints)
	slice.Endpoints[0].Addresses = []string{pick(rng, "10.1.0.1", "10.1.0.2")}
	return slice
}

// randomUpstream has static endpoints or those of Service api, and may
// verify them with the CA of Secret team/ca: what it reads changes too.
func randomUpstream(rng *rand.Rand) any {
	spec := v1alpha1.UpstreamSpec{Protocol: pick(rng, v1alpha1.ProtocolHTTP1, v1alpha1.ProtocolH2C)}
	if rng.IntN(2) == 0 {
		spec.Endpoints = []v1alpha1.StaticEndpoint{{Address: pick(rng, "10.2.0.1", "10.2.0.2"), Port: 8080}}
	} else {
		spec.ServiceRef = &v1alpha1.ServiceRef{Name: "api", Port: v1alpha1.ServicePort{Number: 80}}
	}
	if rng.IntN(2) == 0 {
		spec.Protocol = v1alpha1.ProtocolHTTPS
		spec.TLS = &v1alpha1.UpstreamTLS{CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca", Key: "ca.crt"}}
	}
	return v1alpha1.Upstream{ObjectMeta: meta("team", "pool", 0), Spec: spec}
}

// caSecret is an Opaque Secret holding a CA, or junk.
func caSecret(rng *rand.Rand) any {
	return corev1.Secret{ObjectMeta: meta("team", "ca", 0), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"ca.crt": pick(rng, testCert.CertPEM, []byte("junk"))}}
}

// TestCacheSeesSettings: changing only a setting (the controller name,
// the address pool, the ports) gives Translate's result, though no object
// changed version.
func TestCacheSeesSettings(t *testing.T) {
	w := newWorld()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 30 {
		w.change(rng)
	}
	for _, change := range []func(*Input){
		func(in *Input) { in.HTTPPorts = []int{80} },
		func(in *Input) { in.HTTPSPorts = nil },
		func(in *Input) { in.AddressPool = netip.MustParsePrefix("10.99.0.0/30") },
		func(in *Input) { in.ControllerName = "someone.else/gateway" },
	} {
		c := NewCache()
		in, backends := inputAndBackends(w.objects()...)
		c.Translate(in, &backends)
		change(&in)
		if got, want := mustJSON(c.Translate(in, &backends)), mustJSON(Translate(in)); got != want {
			t.Fatalf("after a settings change\ngot  %s\nwant %s", got, want)
		}
	}
}
