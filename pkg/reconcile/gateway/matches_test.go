package gateway

import (
	"fmt"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// basic is one Gateway with an HTTP listener on 80 and the Service web.
func basic(objs ...any) Input {
	return input(append([]any{gw("team", "gw", 0, httpListener("http", 80)), service("team", "web", "")}, objs...)...)
}

// TestMatches: every HTTPRoute match becomes the snapshot match the spec
// means, and the route passes the data plane's own checks.
func TestMatches(t *testing.T) {
	cases := []struct {
		name  string
		match gatewayv1.HTTPRouteMatch
		want  snapshot.Route
	}{
		{"no match is PathPrefix /", gatewayv1.HTTPRouteMatch{}, snapshot.Route{PathType: snapshot.PathPrefix, Path: "/"}},
		{"PathPrefix", pathMatchOf(gatewayv1.PathMatchPathPrefix, "/api"), snapshot.Route{PathType: snapshot.PathPrefix, Path: "/api"}},
		{"PathPrefix trailing slash matches by elements", pathMatchOf(gatewayv1.PathMatchPathPrefix, "/api/"),
			snapshot.Route{PathType: snapshot.PathPrefix, Path: "/api"}},
		{"Exact keeps its trailing slash", pathMatchOf(gatewayv1.PathMatchExact, "/api/"), snapshot.Route{PathType: snapshot.PathExact, Path: "/api/"}},
		{"method", gatewayv1.HTTPRouteMatch{Method: ptr(gatewayv1.HTTPMethodPost)},
			snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Method: "POST"}},
		{"headers exact and regex; a repeated name counts once", gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{
			{Name: "X-Env", Value: "prod"},
			{Name: "x-env", Value: "dev"},
			{Name: "X-Ver", Value: "v[0-9]+", Type: ptr(gatewayv1.HeaderMatchRegularExpression)},
		}}, snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Headers: []snapshot.HeaderMatch{
			{Name: "X-Env", Value: "prod"}, {Name: "X-Ver", Value: "v[0-9]+", Regex: true}}}},
		{"query params exact and regex; names compare with case", gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{
			{Name: "a", Value: "1"},
			{Name: "A", Value: "2"},
			{Name: "b", Value: "x.*", Type: ptr(gatewayv1.QueryParamMatchRegularExpression)},
		}}, snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", QueryParams: []snapshot.QueryMatch{
			{Name: "a", Value: "1"}, {Name: "A", Value: "2"}, {Name: "b", Value: "x.*", Regex: true}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(basic(httpRoute("team", "r", 0, parent("gw"), rule(match(tc.match), backendTo(svcRef("web", 80))))))
			dataPlaneCheck(t, out)
			routes := routesOf(out, "team/gw", 80, "")
			if len(routes) != 1 {
				t.Fatalf("routes: %+v", routes)
			}
			want := tc.want
			want.Upstream, want.Source = "service/team/web/80", "team/r"
			mustEqualJSON(t, "route", routes[0], want)
		})
	}
}

// TestRegularExpressionPath: a RegularExpression path is emitted when the
// data plane's validator takes it, and otherwise refused on the route
// (UnsupportedValue), never passed on to be refused by the data plane.
func TestRegularExpressionPath(t *testing.T) {
	out := Translate(basic(httpRoute("team", "r", 0, parent("gw"),
		rule(match(pathMatchOf(gatewayv1.PathMatchRegularExpression, "/v[0-9]+/.*")), backendTo(svcRef("web", 80))))))
	dataPlaneCheck(t, out)
	probe := snapshot.Route{PathType: snapshot.PathRegularExpression, Path: "/v[0-9]+/.*"}
	routes := routesOf(out, "team/gw", 80, "")
	accepted := reasonOf(parentStatus(t, out, "team/r").Conditions, gatewayv1.RouteConditionAccepted)
	if snapshot.CheckRoute(&probe) == nil {
		if len(routes) != 1 || routes[0].PathType != snapshot.PathRegularExpression || accepted != "True/Accepted" {
			t.Fatalf("routes %+v, Accepted %s", routes, accepted)
		}
		return
	}
	if len(routes) != 0 || accepted != "False/UnsupportedValue" {
		t.Fatalf("the data plane refuses regular expressions, yet: routes %+v, Accepted %s", routes, accepted)
	}
}

// TestPrecedenceOrder: equal matches of two routes are ordered by the
// route's age, then namespace/name, then rule and match index.
func TestPrecedenceOrder(t *testing.T) {
	m := match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/x"))
	b := backendTo(svcRef("web", 80))
	out := Translate(basic(
		httpRoute("team", "young", 10, parent("gw"), rule(m, b)),
		httpRoute("team", "old-b", 5, parent("gw"), rule(m, b), rule(m, m, b)),
		httpRoute("team", "old-a", 5, parent("gw"), rule(m, b)),
	))
	var got []string
	for _, r := range routesOf(out, "team/gw", 80, "") {
		got = append(got, r.Source)
	}
	want := []string{"team/old-a", "team/old-b", "team/old-b", "team/old-b", "team/young"}
	mustEqualJSON(t, "order", got, want)
}

// TestMoreSpecificMatchesFirst: the emitted order follows the spec's
// precedence, whatever order the rules were written in.
func TestMoreSpecificMatchesFirst(t *testing.T) {
	b := backendTo(svcRef("web", 80))
	out := Translate(basic(httpRoute("team", "r", 0, parent("gw"),
		rule(match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/")), b),
		rule(match(gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "a", Value: "1"}}}), b),
		rule(match(gatewayv1.HTTPRouteMatch{Method: ptr(gatewayv1.HTTPMethodGet)}), b),
		rule(match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/long")), b),
		rule(match(pathMatchOf(gatewayv1.PathMatchExact, "/")), b),
	)))
	var got []string
	for _, r := range routesOf(out, "team/gw", 80, "") {
		got = append(got, fmt.Sprintf("%s %s %q %d", r.PathType, r.Path, r.Method, len(r.Headers)))
	}
	want := []string{`Exact / "" 0`, `Prefix /long "" 0`, `Prefix / "GET" 0`, `Prefix / "" 1`, `Prefix / "" 0`}
	mustEqualJSON(t, "precedence", got, want)
}
