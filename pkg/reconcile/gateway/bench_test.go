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
			in := input(objs...)
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

// BenchmarkResolver: what indexing 1000 Services and their slices again
// for the Gateway translation costs on every rebuild.
func BenchmarkResolver(b *testing.B) {
	var res translate.Input
	for i := range 1000 {
		objs := service("team", fmt.Sprintf("svc-%d", i), "")
		res.Services = append(res.Services, objs[0].(corev1.Service))
		res.EndpointSlices = append(res.EndpointSlices, objs[1].(discoveryv1.EndpointSlice))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		translate.NewResolver(res)
	}
}
