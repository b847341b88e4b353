package translate

import (
	"slices"
	"sort"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// tcase is one table entry: the objects, the snapshot expected from them
// and, for every Ingress that must get a result, its warning reasons in
// order.
type tcase struct {
	in       Input
	want     *snapshot.Snapshot
	warnings map[string][]string
}

func run(t *testing.T, cases map[string]tcase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out := Translate(tc.in)
			if tc.want != nil {
				mustEqualJSON(t, "snapshot", out.Snapshot, tc.want)
			}
			wantKeys := []string{}
			for k := range tc.warnings {
				wantKeys = append(wantKeys, k)
			}
			sort.Strings(wantKeys)
			mustEqualJSON(t, "ingress results", resultKeys(out), wantKeys)
			for k, want := range tc.warnings {
				if want == nil {
					want = []string{}
				}
				mustEqualJSON(t, "warnings of "+k, reasons(out, k), want)
			}
		})
	}
}

// web is a Service with a named port 80 → 8080 and two ready endpoints.
func web(ns string) []any {
	return []any{
		service(ns, "web", svcPort("http", 80)),
		endpointSlice(ns, "web", "web-1", map[string]int32{"http": 8080}, readyEP("10.0.0.1"), readyEP("10.0.0.2")),
	}
}

func webUpstream(ns string) snapshot.Upstream {
	return svcUpstream(ns, "web", 80, "10.0.0.1:8080", "10.0.0.2:8080")
}

func with(objs []any, more ...any) []any { return append(slices.Clone(objs), more...) }

func TestClassSelection(t *testing.T) {
	routed := &snapshot.Snapshot{
		Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "service/default/web/80", "default/i"))},
		Upstreams: []snapshot.Upstream{webUpstream("default")},
	}
	empty := &snapshot.Snapshot{}
	r := rule("a.com", prefix("/", backend("web", 80)))
	defaultClass := ingressClass(ourClass, controller, true)
	cases := map[string]tcase{
		"explicit class": {
			in: input(with(web("default"), ingress("default", "i", 0, r))...), want: routed,
			warnings: map[string][]string{"default/i": nil},
		},
		"class-less and our class is the default": {
			in:   withClasses(input(with(web("default"), ingress("default", "i", 0, r, noClass()))...), defaultClass),
			want: routed, warnings: map[string][]string{"default/i": nil},
		},
		"class-less and our class is not the default": {
			in:   input(with(web("default"), ingress("default", "i", 0, r, noClass()))...),
			want: empty, warnings: map[string][]string{},
		},
		"another controller's class is ignored": {
			in: input(with(web("default"), ingressClass("nginx", "k8s.io/ingress-nginx", true),
				ingress("default", "i", 0, r, className("nginx")))...),
			want: empty, warnings: map[string][]string{},
		},
		"a class that does not exist is ignored": {
			in:   input(with(web("default"), ingress("default", "i", 0, r, className("missing")))...),
			want: empty, warnings: map[string][]string{},
		},
		"our controller but another class name is ignored when ClassName is set": {
			in: input(with(web("default"), ingressClass("internal", controller, true),
				ingress("default", "i", 0, r, className("internal")))...),
			want: empty, warnings: map[string][]string{},
		},
		"legacy annotation naming our class": {
			in: input(with(web("default"),
				ingress("default", "i", 0, r, noClass(), annotation(LegacyClassAnnotation, ourClass)))...),
			want: routed, warnings: map[string][]string{"default/i": nil},
		},
		"legacy annotation naming another class beats our default class": {
			in: withClasses(input(with(web("default"),
				ingress("default", "i", 0, r, noClass(), annotation(LegacyClassAnnotation, "nginx")))...), defaultClass),
			want: empty, warnings: map[string][]string{},
		},
	}
	run(t, cases)
}

func withClasses(in Input, classes ...networkingv1.IngressClass) Input {
	in.IngressClasses = classes
	return in
}

func TestClassNameUnsetAcceptsEveryClassOfOurController(t *testing.T) {
	in := input(with(web("default"),
		ingress("default", "a", 0, rule("a.com", prefix("/", backend("web", 80))), className("internal")),
		ingress("default", "b", 0, rule("b.com", prefix("/", backend("web", 80))), className("baton")))...)
	in.ClassName = ""
	in.IngressClasses = append(in.IngressClasses, ingressClass("internal", controller, false))
	out := Translate(in)
	mustEqualJSON(t, "results", resultKeys(out), []string{"default/a", "default/b"})
}

func TestHostsAndPaths(t *testing.T) {
	const u = "service/default/web/80"
	cases := map[string]tcase{
		"path types, trailing slash and route order": {
			in: input(with(web("default"), ingress("default", "i", 0,
				rule("Foo.COM",
					prefix("/", backend("web", 80)),
					exact("/api/v1/", backend("web", 80)),
					prefix("/api/v1/", backend("web", 80)),
					implSpecific("/static", backend("web", 80)),
					networkingv1.HTTPIngressPath{Path: "/nil-type", Backend: backend("web", 80)},
				),
				rule("", implSpecific("", backend("web", 80))),
				rule("*.wild.com", exact("/x", backend("web", 80))),
			))...),
			want: &snapshot.Snapshot{
				Hosts: []snapshot.VirtualHost{
					vhost("", prefixRoute("/", u, "default/i")),
					vhost("*.wild.com", exactRoute("/x", u, "default/i")),
					vhost("foo.com",
						prefixRoute("/nil-type", u, "default/i"),
						exactRoute("/api/v1/", u, "default/i"),
						prefixRoute("/api/v1", u, "default/i"),
						prefixRoute("/static", u, "default/i"),
						prefixRoute("/", u, "default/i")),
				},
				Upstreams: []snapshot.Upstream{webUpstream("default")},
			},
			warnings: map[string][]string{"default/i": nil},
		},
		"bad paths and hosts are dropped alone": {
			in: input(with(web("default"), ingress("default", "i", 0,
				rule("a.com",
					prefix("api", backend("web", 80)),
					exact("", backend("web", 80)),
					prefix("/q?x=1", backend("web", 80)),
					implSpecific("/a//b", backend("web", 80)),
					exact("/a/..", backend("web", 80)),
					prefix("/public/..;/admin", backend("web", 80)),
					prefix("/win\\dows", backend("web", 80)),
					path("Regex", "/r", backend("web", 80)),
					prefix("/ok", backend("web", 80))),
				rule("bad_host.com", prefix("/", backend("web", 80))),
				rule("b.com"),
			))...),
			want: &snapshot.Snapshot{
				Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/ok", u, "default/i"))},
				Upstreams: []snapshot.Upstream{webUpstream("default")},
			},
			warnings: map[string][]string{"default/i": {
				ReasonInvalidPath, ReasonInvalidPath, ReasonInvalidPath, ReasonInvalidPath, ReasonInvalidPath,
				ReasonInvalidPath, ReasonInvalidPath, ReasonInvalidPath, ReasonInvalidHost}},
		},
	}
	run(t, cases)
}
