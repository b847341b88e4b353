package gateway

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

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
