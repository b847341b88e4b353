package gateway

import (
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func prefixRewrite(v string) *gatewayv1.HTTPPathModifier {
	return &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &v}
}

func fullRewrite(v string) *gatewayv1.HTTPPathModifier {
	return &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: &v}
}

// TestFilters: every HTTPRoute filter becomes the snapshot filter of the
// same meaning.
func TestFilters(t *testing.T) {
	headers := &gatewayv1.HTTPHeaderFilter{
		Set: []gatewayv1.HTTPHeader{{Name: "X-Set", Value: "1"}}, Add: []gatewayv1.HTTPHeader{{Name: "X-Add", Value: "2"}},
		Remove: []string{"X-Gone"}}
	edits := snapshot.HeaderEdits{Set: []snapshot.Header{{Name: "X-Set", Value: "1"}},
		Add: []snapshot.Header{{Name: "X-Add", Value: "2"}}, Remove: []string{"X-Gone"}}
	cases := []struct {
		name   string
		filter gatewayv1.HTTPRouteFilter
		want   snapshot.RouteFilters
	}{
		{"RequestHeaderModifier", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: headers},
			snapshot.RouteFilters{RequestHeaders: edits}},
		{"ResponseHeaderModifier", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: headers},
			snapshot.RouteFilters{ResponseHeaders: edits}},
		{"RequestRedirect to https, port and status", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("https"), Hostname: ptr(gatewayv1.PreciseHostname("b.example.com")),
				Port: ptr(int32(8443)), StatusCode: ptr(301)}},
			snapshot.RouteFilters{Redirect: &snapshot.Redirect{Scheme: "https", Hostname: "b.example.com", Port: 8443, StatusCode: 301}}},
		{"RequestRedirect 308 keeps the method", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{StatusCode: ptr(308)}},
			snapshot.RouteFilters{Redirect: &snapshot.Redirect{StatusCode: 308}}},
		{"RequestRedirect defaults to 302", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Path: fullRewrite("/new")}},
			snapshot.RouteFilters{Redirect: &snapshot.Redirect{StatusCode: 302, Path: &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: "/new"}}}},
		{"URLRewrite ReplacePrefixMatch and host", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterURLRewrite,
			URLRewrite: &gatewayv1.HTTPURLRewriteFilter{Hostname: ptr(gatewayv1.PreciseHostname("in.example.com")), Path: prefixRewrite("/v2")}},
			snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Hostname: "in.example.com", Path: &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/v2"}}}},
		{"URLRewrite ReplaceFullPath", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterURLRewrite,
			URLRewrite: &gatewayv1.HTTPURLRewriteFilter{Path: fullRewrite("/all")}},
			snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: "/all"}}}},
		{"RequestMirror", gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestMirror,
			RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: svcRef("mirror", 80).BackendObjectReference}},
			snapshot.RouteFilters{Mirrors: []string{"service/team/mirror/80"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(basic(service("team", "mirror", ""), httpRoute("team", "r", 0, parent("gw"),
				rule(match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/p")), filter(tc.filter), backendTo(svcRef("web", 80))))))
			dataPlaneCheck(t, out)
			routes := routesOf(out, "team/gw", 80, "")
			if len(routes) != 1 || routes[0].Filters == nil {
				t.Fatalf("routes: %+v", routes)
			}
			mustEqualJSON(t, "filters", *routes[0].Filters, tc.want)
		})
	}
}

// TestUnsupportedRules: a rule Baton cannot serve is dropped and reported
// (UnsupportedValue): Accepted False when no rule is left, PartiallyInvalid
// when others still serve.
func TestUnsupportedRules(t *testing.T) {
	ext := filter(gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterExtensionRef,
		ExtensionRef: &gatewayv1.LocalObjectReference{Group: "x.io", Kind: "Thing", Name: "t"}})
	prefixOnExact := filter(gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterURLRewrite,
		URLRewrite: &gatewayv1.HTTPURLRewriteFilter{Path: prefixRewrite("/x")}})
	badPath := match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/a/../b"))
	good := rule(backendTo(svcRef("web", 80)))
	for name, bad := range map[string]routeOption{
		"ExtensionRef filter":                  rule(ext, backendTo(svcRef("web", 80))),
		"ReplacePrefixMatch on an Exact match": rule(match(pathMatchOf(gatewayv1.PathMatchExact, "/e")), prefixOnExact, backendTo(svcRef("web", 80))),
		"a path the data plane refuses":        rule(badPath, backendTo(svcRef("web", 80))),
		"bad duration": func(r *gatewayv1.HTTPRoute) {
			rule(backendTo(svcRef("web", 80)))(r)
			r.Spec.Rules[len(r.Spec.Rules)-1].Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr(gatewayv1.Duration("soon"))}
		},
	} {
		t.Run(name, func(t *testing.T) {
			out := Translate(basic(httpRoute("team", "alone", 0, parent("gw"), bad), httpRoute("team", "mixed", 1, parent("gw"), bad, good)))
			dataPlaneCheck(t, out)
			alone := parentStatus(t, out, "team/alone").Conditions
			if got := reasonOf(alone, gatewayv1.RouteConditionAccepted); got != "False/UnsupportedValue" {
				t.Errorf("alone: Accepted %s", got)
			}
			mixed := parentStatus(t, out, "team/mixed").Conditions
			if got := reasonOf(mixed, gatewayv1.RouteConditionAccepted) + " " + reasonOf(mixed, gatewayv1.RouteConditionPartiallyInvalid); got != "True/Accepted True/UnsupportedValue" {
				t.Errorf("mixed: %s", got)
			}
			for _, r := range routesOf(out, "team/gw", 80, "") {
				if r.Source != "team/mixed" {
					t.Errorf("a route of %s is served", r.Source)
				}
			}
		})
	}
}

// TestTimeoutsAndRetry: Gateway API counts retries, the snapshot attempts.
func TestTimeoutsAndRetry(t *testing.T) {
	withPolicy := func(r *gatewayv1.HTTPRoute) {
		rule(backendTo(svcRef("web", 80)))(r)
		rr := &r.Spec.Rules[len(r.Spec.Rules)-1]
		rr.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr(gatewayv1.Duration("10s")), BackendRequest: ptr(gatewayv1.Duration("500ms"))}
		rr.Retry = &gatewayv1.HTTPRouteRetry{Attempts: ptr(2), Codes: []gatewayv1.HTTPRouteRetryStatusCode{503}, Backoff: ptr(gatewayv1.Duration("100ms"))}
	}
	out := Translate(basic(httpRoute("team", "r", 0, parent("gw"), withPolicy)))
	dataPlaneCheck(t, out)
	r := routesOf(out, "team/gw", 80, "")[0]
	mustEqualJSON(t, "timeouts", r.Timeouts, snapshot.RouteTimeouts{Request: 10 * time.Second, BackendRequest: 500 * time.Millisecond})
	mustEqualJSON(t, "retry", r.Retry, &snapshot.RouteRetry{Attempts: 3, Codes: []int{503}, Backoff: 100 * time.Millisecond})
}

// TestRedirectNeedsNoBackend: a redirect answers by itself.
func TestRedirectNeedsNoBackend(t *testing.T) {
	out := Translate(basic(httpRoute("team", "r", 0, parent("gw"), rule(filter(gatewayv1.HTTPRouteFilter{
		Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("https")}})))))
	dataPlaneCheck(t, out)
	r := routesOf(out, "team/gw", 80, "")[0]
	if r.Upstream != "" || r.Backends != nil || r.Filters.Redirect.Scheme != "https" {
		t.Fatalf("route %+v", r)
	}
	if got := reasonOf(parentStatus(t, out, "team/r").Conditions, gatewayv1.RouteConditionResolvedRefs); got != "True/ResolvedRefs" {
		t.Fatalf("ResolvedRefs %s", got)
	}
}
