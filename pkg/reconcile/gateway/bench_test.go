package gateway

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// BenchmarkTranslate: n Gateways' worth of routes (one Service and one
// HTTPRoute with two matches each, 10 routes per Gateway), the rebuild
// cost Gateway API adds, resolver included.
func BenchmarkTranslate(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			in := input(routeObjects(n)...)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if out := Translate(in); len(out.Gateways) != n/10 {
					b.Fatalf("%d gateways", len(out.Gateways))
				}
			}
		})
	}
}

// BenchmarkOneRouteChange: a build after one HTTPRoute of n changed (its
// path, and so its resourceVersion), by Translate ("full") and by a Cache
// ("cached"), which translates that route again and reuses the others.
// The Resolver is built once (BenchmarkResolver is its cost per build).
func BenchmarkOneRouteChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		in, backends := routesInput(n)
		for _, mode := range []string{"full", "cached"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				c := NewCache()
				build := func() Output {
					if mode == "full" {
						return Translate(in)
					}
					return c.Translate(in, &backends)
				}
				build()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					r := &in.HTTPRoutes[i%n]
					v := nextVersion()
					r.ResourceVersion = v
					r.Spec.Rules[0].Matches[0].Path.Value = ptr("/a" + v)
					if out := build(); len(out.HTTPRoutes) != n {
						b.Fatalf("%d routes", len(out.HTTPRoutes))
					}
				}
			})
		}
	}
}

// BenchmarkOneGatewayChange: a Cache's build after one Gateway of n/10
// changed, which attaches every route again (reusing their translations).
func BenchmarkOneGatewayChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		in, backends := routesInput(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := NewCache()
			c.Translate(in, &backends)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				g := &in.Gateways[i%len(in.Gateways)]
				g.ResourceVersion = nextVersion()
				if out := c.Translate(in, &backends); len(out.HTTPRoutes) != n {
					b.Fatalf("%d routes", len(out.HTTPRoutes))
				}
			}
		})
	}
}

// benchVersions numbers the versions benchmarks give what they change:
// a version seen before (by another run or mode sharing the input) would
// be a build where nothing changed.
var benchVersions int

func nextVersion() string {
	benchVersions++
	return fmt.Sprint("bench-", benchVersions)
}

// routeObjects are n Services and HTTPRoutes (two matches each), 10
// routes per Gateway, and their Gateways.
func routeObjects(n int) []any {
	var objs []any
	for i := range n {
		svc := fmt.Sprintf("svc-%d", i)
		objs = append(objs, service("team", svc, ""))
		objs = append(objs, httpRoute("team", fmt.Sprintf("r-%d", i), i, parent(fmt.Sprintf("gw-%d", i/10)),
			hostnames(fmt.Sprintf("h%d.example.com", i)),
			rule(match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/a")), match(pathMatchOf(gatewayv1.PathMatchExact, "/b")),
				backendTo(svcRef(svc, 80)))))
	}
	for g := range n / 10 {
		objs = append(objs, gw("team", fmt.Sprintf("gw-%d", g), g, httpListener("http", 80)))
	}
	return objs
}

// routesInput is n versioned HTTPRoutes and Services, 10 routes per Gateway.
func routesInput(n int) (Input, translate.Input) {
	flat := flatten(routeObjects(n))
	for i, o := range flat {
		flat[i] = stamp(o, fmt.Sprint("uid-", i), "1")
	}
	return inputAndBackends(flat...)
}

// BenchmarkResolver: what indexing n Services and their slices again
// for the Gateway translation costs on every rebuild.
func BenchmarkResolver(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var res translate.Input
			for i := range n {
				objs := service("team", fmt.Sprintf("svc-%d", i), "")
				res.Services = append(res.Services, objs[0].(corev1.Service))
				res.EndpointSlices = append(res.EndpointSlices, objs[1].(discoveryv1.EndpointSlice))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				translate.NewResolver(res)
			}
		})
	}
}

// BenchmarkChange: the Gateway API side's work for one change among n
// HTTPRoutes (and their Services) on four Gateways, as the controller
// does it: the Cache's build from the changed object alone. Kinds of
// change: one route's path, one backend EndpointSlice's endpoint, one
// Gateway's listeners (a second listener added or removed).
func BenchmarkChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, kind := range []string{"route", "slice", "listener"} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				bc := newBenchCluster(n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if out := bc.change(kind, i); len(out.HTTPRoutes) != n {
						b.Fatalf("%d routes", len(out.HTTPRoutes))
					}
				}
			})
		}
	}
}

// benchCluster is n routes on four Gateways and the Cache the
// controller keeps between changes.
type benchCluster struct {
	n        int
	in       Input
	backends translate.Input
	c        *Cache
}

func newBenchCluster(n int) *benchCluster {
	flat := flatten(fewGatewayObjects(n))
	for i, o := range flat {
		flat[i] = stamp(o, fmt.Sprint("uid-", i), "1")
	}
	bc := &benchCluster{n: n, c: NewCache()}
	bc.in, bc.backends = inputAndBackends(flat...)
	bc.c.Translate(bc.in, &bc.backends)
	return bc
}

// fewGatewayObjects are n Services and HTTPRoutes spread over four Gateways.
func fewGatewayObjects(n int) []any {
	var objs []any
	for i := range n {
		svc := fmt.Sprintf("svc-%d", i)
		objs = append(objs, service("team", svc, ""))
		objs = append(objs, httpRoute("team", fmt.Sprintf("r-%d", i), i, parent(fmt.Sprintf("gw-%d", i%4)),
			hostnames(fmt.Sprintf("h%d.example.com", i)),
			rule(match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/a")), backendTo(svcRef(svc, 80)))))
	}
	for g := range 4 {
		objs = append(objs, stamp(gw("team", fmt.Sprintf("gw-%d", g), g, httpListener("http", 80)), "gw", "1"))
	}
	return objs
}

// change makes the i-th change of kind (a new version of one object,
// as an informer hands it over) and builds from it.
func (bc *benchCluster) change(kind string, i int) Output {
	v := nextVersion()
	var ch Changes
	switch kind {
	case "route":
		r := bc.in.HTTPRoutes[(i*7919)%bc.n]
		r.ResourceVersion, r.Generation = v, r.Generation+1
		r.Spec.Rules = slices.Clone(r.Spec.Rules)
		r.Spec.Rules[0].Matches = []gatewayv1.HTTPRouteMatch{pathMatchOf(gatewayv1.PathMatchPathPrefix, "/a"+v)}
		ch.HTTPRoutes = map[types.NamespacedName]*gatewayv1.HTTPRoute{keyOf(&r): &r}
	case "slice":
		s := bc.backends.EndpointSlices[(i*7919)%bc.n]
		s.ResourceVersion = v
		s.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.2.%d.%d", i/200%200, i%200+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}}
		ch.EndpointSlices = map[types.NamespacedName]*discoveryv1.EndpointSlice{keyOf(&s): &s}
	case "listener":
		g := &bc.in.Gateways[i%len(bc.in.Gateways)]
		g.ResourceVersion, g.Generation = v, g.Generation+1
		ls := g.Spec.Listeners[:1:1]
		if len(g.Spec.Listeners) == 1 {
			ls = append(ls, gatewayv1.Listener{Name: "extra", Protocol: gatewayv1.HTTPProtocolType, Port: 8080})
		}
		g.Spec.Listeners = ls
		cp := *g
		ch.Gateways = map[types.NamespacedName]*gatewayv1.Gateway{keyOf(g): &cp}
	}
	return bc.c.TranslateChanges(bc.in, false, &ch)
}
