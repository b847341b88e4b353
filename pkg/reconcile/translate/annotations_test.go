package translate

import (
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
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
	for _, res := range out.Ingresses {
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
