package translate

import (
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

func filteredRoute(r snapshot.Route, f snapshot.RouteFilters) snapshot.Route {
	r.Filters = &f
	return r
}

// Each filter annotation gives the Ingress's rule paths the
// snapshot.RouteFilters a Gateway API route would have.
func TestFilterAnnotations(t *testing.T) {
	const u = "service/default/web/80"
	ing := func(opts ...ingressOption) Input {
		opts = append(opts, rule("a.com", prefix("/app/", backend("web", 80)), exact("/exact", backend("web", 80))))
		return input(with(web("default"), ingress("default", "i", 0, opts...))...)
	}
	routed := func(pfx, ex *snapshot.RouteFilters) *snapshot.Snapshot {
		e, p := exactRoute("/exact", u, "default/i"), prefixRoute("/app", u, "default/i")
		e.Filters, p.Filters = ex, pfx
		return &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{vhost("a.com", e, p)},
			Upstreams: []snapshot.Upstream{webUpstream("default")}}
	}
	same := func(f snapshot.RouteFilters) *snapshot.Snapshot { return routed(&f, &f) }
	ok := map[string][]string{"default/i": nil}
	cases := map[string]tcase{
		"no annotation, no filters": {in: ing(), want: routed(nil, nil), warnings: ok},
		"ssl-redirect": {
			in:       ing(annotation(AnnotationSSLRedirect, "true")),
			want:     same(snapshot.RouteFilters{Redirect: &snapshot.Redirect{Scheme: "https", StatusCode: 301, InsecureOnly: true}}),
			warnings: ok,
		},
		"ssl-redirect false": {in: ing(annotation(AnnotationSSLRedirect, "false")), want: routed(nil, nil), warnings: ok},
		"rewrite-target": {
			in: ing(annotation(AnnotationRewriteTarget, "/")),
			want: routed(
				&snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/"}}},
				&snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: "/"}}}),
			warnings: ok,
		},
		"rewrite-host": {
			in:       ing(annotation(AnnotationRewriteHost, "Backend.Example")),
			want:     same(snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Hostname: "backend.example"}}),
			warnings: ok,
		},
		"request-headers": {
			in: ing(annotation(AnnotationRequestHeaders, `{"set":[{"name":"X-Set","value":"1"}],"add":[{"name":"X-Add","value":"2"}],"remove":["X-Gone"]}`)),
			want: same(snapshot.RouteFilters{RequestHeaders: snapshot.HeaderEdits{
				Set: []snapshot.Header{{Name: "X-Set", Value: "1"}}, Add: []snapshot.Header{{Name: "X-Add", Value: "2"}}, Remove: []string{"X-Gone"}}}),
			warnings: ok,
		},
		"response-headers": {
			in:       ing(annotation(AnnotationResponseHeaders, `{"set":[{"name":"Strict-Transport-Security","value":"max-age=31536000"}]}`)),
			want:     same(snapshot.RouteFilters{ResponseHeaders: snapshot.HeaderEdits{Set: []snapshot.Header{{Name: "Strict-Transport-Security", Value: "max-age=31536000"}}}}),
			warnings: ok,
		},
	}
	bad := map[string][2]string{
		"ssl-redirect yes":         {AnnotationSSLRedirect, "yes"},
		"rewrite-target relative":  {AnnotationRewriteTarget, "new"},
		"rewrite-target regex":     {AnnotationRewriteTarget, "/$1"},
		"rewrite-target dots":      {AnnotationRewriteTarget, "/a/../b"},
		"rewrite-host wildcard":    {AnnotationRewriteHost, "*.example.com"},
		"rewrite-host with a path": {AnnotationRewriteHost, "example.com/x"},
		"request-headers not JSON": {AnnotationRequestHeaders, "X-A: 1"},
		"request-headers unknown":  {AnnotationRequestHeaders, `{"append":[{"name":"X-A","value":"1"}]}`},
		"request-headers bad name": {AnnotationRequestHeaders, `{"set":[{"name":"X A","value":"1"}]}`},
		"response-headers CRLF":    {AnnotationResponseHeaders, `{"add":[{"name":"X-A","value":"1\r\nX-Injected: 1"}]}`},
		"response-headers remove":  {AnnotationResponseHeaders, `{"remove":["Bad:Name"]}`},
	}
	for name, kv := range bad {
		cases["bad "+name] = tcase{
			in:       ing(annotation(kv[0], kv[1])),
			want:     &snapshot.Snapshot{},
			warnings: map[string][]string{"default/i": {ReasonInvalidAnnotation}},
		}
	}
	run(t, cases)
}

// A bad annotation drops only its own Ingress's routes, and they stay
// claimed: a younger Ingress on the same path does not take its traffic.
// The Ingress is not Accepted.
func TestBadAnnotationDropsOnlyItsIngress(t *testing.T) {
	const u = "service/default/web/80"
	in := input(with(web("default"),
		ingress("default", "old", 0, annotation(AnnotationRewriteTarget, "no-slash"), rule("a.com", prefix("/", backend("web", 80)))),
		ingress("default", "young", 1, rule("a.com", prefix("/", backend("web", 80)))),
		ingress("default", "other", 2, rule("b.com", prefix("/", backend("web", 80)))),
	)...)
	out := Translate(in)
	mustEqualJSON(t, "snapshot", out.Snapshot, &snapshot.Snapshot{
		Hosts:     []snapshot.VirtualHost{vhost("b.com", prefixRoute("/", u, "default/other"))},
		Upstreams: []snapshot.Upstream{webUpstream("default")},
	})
	for key, want := range map[string][]string{
		"default/old": {ReasonInvalidAnnotation}, "default/young": {ReasonRouteConflict}, "default/other": nil,
	} {
		if got := reasons(out, key); !equalStrings(got, want) {
			t.Errorf("%s: warnings %v, want %v", key, got, want)
		}
	}
	for _, res := range out.Ingresses.All() {
		if res.Key.Name == "old" && (res.Conditions[0].Type != ConditionAccepted || res.Conditions[0].Reason != ReasonInvalidAnnotation) {
			t.Errorf("old: conditions %+v, want Accepted False with %s", res.Conditions, ReasonInvalidAnnotation)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The canary annotation gives each rule path the weighted backends a
// Gateway API rule with two backendRefs has: the path's own upstream and
// the canary Service's, resolved as an Ingress Service backend is.
func TestCanaryAnnotation(t *testing.T) {
	const u, v2 = "service/default/web/80", "service/default/web-v2/80"
	canarySvc := []any{service("default", "web-v2", svcPort("http", 80)),
		endpointSlice("default", "web-v2", "web-v2-1", map[string]int32{"http": 8080}, readyEP("10.0.1.1"))}
	v2Upstream := svcUpstream("default", "web-v2", 80, "10.0.1.1:8080")
	ing := func(value string, objs ...any) Input {
		i := ingress("default", "i", 0, annotation(AnnotationCanary, value),
			rule("a.com", prefix("/app/", backend("web", 80)), exact("/exact", backend("web", 80))))
		return input(append(with(web("default"), i), objs...)...)
	}
	split := func(canary snapshot.WeightedBackend, stable int, ups ...snapshot.Upstream) *snapshot.Snapshot {
		e, p := exactRoute("/exact", "", "default/i"), prefixRoute("/app", "", "default/i")
		e.Backends = []snapshot.WeightedBackend{{Upstream: u, Weight: stable}, canary}
		p.Backends = e.Backends
		return &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{vhost("a.com", e, p)},
			Upstreams: append(ups, webUpstream("default"))} // sorted by name: web-v2 first
	}
	ok := map[string][]string{"default/i": nil}
	cases := map[string]tcase{
		"port number": {in: ing(`{"service":"web-v2","port":80,"weight":10}`, canarySvc...),
			want: split(snapshot.WeightedBackend{Upstream: v2, Weight: 10}, 90, v2Upstream), warnings: ok},
		"port name": {in: ing(`{"service":"web-v2","port":"http","weight":10}`, canarySvc...),
			want: split(snapshot.WeightedBackend{Upstream: v2, Weight: 10}, 90, v2Upstream), warnings: ok},
		"weight 0 keeps the canary warm and idle": {in: ing(`{"service":"web-v2","port":80,"weight":0}`, canarySvc...),
			want: split(snapshot.WeightedBackend{Upstream: v2, Weight: 0}, 100, v2Upstream), warnings: ok},
		"weight 100 moves everything": {in: ing(`{"service":"web-v2","port":80,"weight":100}`, canarySvc...),
			want: split(snapshot.WeightedBackend{Upstream: v2, Weight: 100}, 0, v2Upstream), warnings: ok},
		"missing Service: its share answers 500": {in: ing(`{"service":"web-v2","port":80,"weight":10}`),
			want:     split(snapshot.WeightedBackend{Invalid: true, Weight: 10}, 90),
			warnings: map[string][]string{"default/i": {ReasonServiceNotFound}}},
		"missing port: its share answers 500": {in: ing(`{"service":"web-v2","port":81,"weight":10}`, canarySvc...),
			want:     split(snapshot.WeightedBackend{Invalid: true, Weight: 10}, 90),
			warnings: map[string][]string{"default/i": {ReasonPortNotFound}}},
	}
	for name, value := range map[string]string{
		"not JSON":          `web-v2:80`,
		"weight over 100":   `{"service":"web-v2","port":80,"weight":101}`,
		"weight negative":   `{"service":"web-v2","port":80,"weight":-1}`,
		"weight missing":    `{"service":"web-v2","port":80}`,
		"weight a fraction": `{"service":"web-v2","port":80,"weight":0.5}`,
		"port missing":      `{"service":"web-v2","weight":10}`,
		"port 0":            `{"service":"web-v2","port":0,"weight":10}`,
		"port bad name":     `{"service":"web-v2","port":"HTTP_","weight":10}`,
		"service missing":   `{"port":80,"weight":10}`,
		"other namespace":   `{"service":"other/web-v2","port":80,"weight":10}`,
		"unknown field":     `{"service":"web-v2","port":80,"weight":10,"namespace":"x"}`,
	} {
		cases["bad "+name] = tcase{in: ing(value, canarySvc...), want: &snapshot.Snapshot{},
			warnings: map[string][]string{"default/i": {ReasonInvalidAnnotation}}}
	}
	run(t, cases)
}

// A canary composes with the filter annotations, and a bad canary drops
// only its own Ingress's routes.
func TestCanaryWithFiltersAndNeighbours(t *testing.T) {
	in := input(with(web("default"),
		ingress("default", "c", 0, annotation(AnnotationCanary, `{"service":"web","port":80,"weight":50}`),
			annotation(AnnotationRewriteTarget, "/"), rule("a.com", prefix("/app", backend("web", 80)))),
		ingress("default", "bad", 1, annotation(AnnotationCanary, `{"service":"web","port":80,"weight":200}`),
			rule("b.com", prefix("/", backend("web", 80)))),
		ingress("default", "other", 2, rule("c.com", prefix("/", backend("web", 80)))),
	)...)
	out := Translate(in)
	const u = "service/default/web/80"
	c := prefixRoute("/app", "", "default/c")
	c.Backends = []snapshot.WeightedBackend{{Upstream: u, Weight: 50}, {Upstream: u, Weight: 50}}
	c.Filters = &snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/"}}}
	mustEqualJSON(t, "snapshot", out.Snapshot, &snapshot.Snapshot{
		Hosts:     []snapshot.VirtualHost{vhost("a.com", c), vhost("c.com", prefixRoute("/", u, "default/other"))},
		Upstreams: []snapshot.Upstream{webUpstream("default")},
	})
	for key, want := range map[string][]string{"default/c": nil, "default/bad": {ReasonInvalidAnnotation}, "default/other": nil} {
		if got := reasons(out, key); !equalStrings(got, want) {
			t.Errorf("%s: warnings %v, want %v", key, got, want)
		}
	}
}

// The canary Service is a dependency of the Ingress: a Cache re-translates
// the Ingress when only the canary Service's slices change.
func TestCanaryServiceChangeRetranslates(t *testing.T) {
	in := input(with(web("default"),
		service("default", "web-v2", svcPort("http", 80)),
		endpointSlice("default", "web-v2", "web-v2-1", map[string]int32{"http": 8080}, readyEP("10.0.1.1")),
		ingress("default", "i", 0, annotation(AnnotationCanary, `{"service":"web-v2","port":80,"weight":10}`),
			rule("a.com", prefix("/", backend("web", 80)))))...)
	cache := NewCache()
	stampVersions(&in)
	cache.Translate(in)
	in.EndpointSlices = slices.Clone(in.EndpointSlices)
	for i := range in.EndpointSlices {
		if in.EndpointSlices[i].Name == "web-v2-1" {
			in.EndpointSlices[i].Endpoints = []discoveryv1.Endpoint{readyEP("10.0.1.2")}
		}
	}
	stampVersions(&in)
	mustEqualJSON(t, "snapshot after the canary's slice changed", snapshottest.Flat(cache.Translate(in).Snapshot), Translate(in).Snapshot)
}
