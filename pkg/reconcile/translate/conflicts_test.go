package translate

import (
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Two tenants want a.com/api; each also has a path nobody else wants.
func contenders(ageA, ageB int) []any {
	objs := with(web("team-a"), web("team-b"))
	return with(objs,
		ingress("team-a", "api", ageA, rule("a.com",
			prefix("/api", backend("web", 80)), prefix("/only-a", backend("web", 80)))),
		ingress("team-b", "api", ageB, rule("a.com",
			prefix("/api/", backend("web", 80)), exact("/api", backend("web", 80)), prefix("/only-b", backend("web", 80)))),
	)
}

func TestRouteConflictOldestWins(t *testing.T) {
	a, b := "service/team-a/web/80", "service/team-b/web/80"
	ups := []snapshot.Upstream{webUpstream("team-a"), webUpstream("team-b")}
	cases := map[string]tcase{
		"team-a is older": {
			in: input(contenders(0, 10)...),
			want: &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{vhost("a.com",
				prefixRoute("/only-a", a, "team-a/api"),
				prefixRoute("/only-b", b, "team-b/api"),
				exactRoute("/api", b, "team-b/api"),
				prefixRoute("/api", a, "team-a/api"),
			)}, Upstreams: ups},
			warnings: map[string][]string{"team-a/api": nil, "team-b/api": {ReasonRouteConflict}},
		},
		"team-b is older": {
			in: input(contenders(10, 0)...),
			want: &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{vhost("a.com",
				prefixRoute("/only-a", a, "team-a/api"),
				prefixRoute("/only-b", b, "team-b/api"),
				exactRoute("/api", b, "team-b/api"),
				prefixRoute("/api", b, "team-b/api"),
			)}, Upstreams: ups},
			warnings: map[string][]string{"team-a/api": {ReasonRouteConflict}, "team-b/api": nil},
		},
		"same age: namespace/name decides": {
			in: input(contenders(5, 5)...),
			want: &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{vhost("a.com",
				prefixRoute("/only-a", a, "team-a/api"),
				prefixRoute("/only-b", b, "team-b/api"),
				exactRoute("/api", b, "team-b/api"),
				prefixRoute("/api", a, "team-a/api"),
			)}, Upstreams: ups},
			warnings: map[string][]string{"team-a/api": nil, "team-b/api": {ReasonRouteConflict}},
		},
		"a winner with a broken backend keeps its claim": {
			// Otherwise deleting team-a's Service would hand a.com/api to team-b.
			in: input(with(web("team-b"),
				ingress("team-a", "api", 0, rule("a.com", prefix("/api", backend("gone", 80)))),
				ingress("team-b", "api", 10, rule("a.com", prefix("/api", backend("web", 80)))))...),
			want:     &snapshot.Snapshot{},
			warnings: map[string][]string{"team-a/api": {ReasonServiceNotFound}, "team-b/api": {ReasonRouteConflict}},
		},
		"a path repeated within one Ingress": {
			in: input(with(web("team-a"), ingress("team-a", "api", 0,
				rule("a.com", prefix("/x", backend("web", 80))),
				rule("A.com", prefix("/x/", backend("web", 80)))))...),
			want: &snapshot.Snapshot{
				Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/x", a, "team-a/api"))},
				Upstreams: []snapshot.Upstream{webUpstream("team-a")},
			},
			warnings: map[string][]string{"team-a/api": {ReasonRouteConflict}},
		},
	}
	run(t, cases)
}

func TestRouteConflictMessageNamesTheWinner(t *testing.T) {
	out := Translate(input(contenders(0, 10)...))
	got := out.Ingresses.Slice()[1].Warnings[0].Message
	want := `host "a.com" path "/api/" is not used: Ingress "team-a/api" serves it already and is older (creationTimestamp, then namespace/name)`
	if got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	accepted := out.Ingresses.Slice()[1].Conditions[0]
	if accepted.Status != "False" || accepted.Reason != ReasonRouteConflict || accepted.Message != want {
		t.Errorf("Accepted = %+v, want False/RouteConflict with the message", accepted)
	}
}

func TestDefaultBackend(t *testing.T) {
	cases := map[string]tcase{
		"oldest Ingress with a default backend wins": {
			in: input(with(web("a"), web("b"),
				ingress("b", "newer", 10, defaultBackend(backend("web", 80))),
				ingress("a", "older", 0, defaultBackend(backend("web", 80))),
				ingress("a", "oldest-without", -10, rule("x.com", prefix("/", backend("web", 80)))))...),
			want: &snapshot.Snapshot{
				Hosts:          []snapshot.VirtualHost{vhost("x.com", prefixRoute("/", "service/a/web/80", "a/oldest-without"))},
				DefaultBackend: &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: "service/a/web/80", Source: "a/older"},
				Upstreams:      []snapshot.Upstream{webUpstream("a")},
			},
			warnings: map[string][]string{"a/older": nil, "a/oldest-without": nil, "b/newer": {ReasonDefaultBackendConflict}},
		},
		"default backend to an Upstream": {
			in: input(upstream("a", "up", static(staticEP("10.5.0.1", 80, 0))),
				ingress("a", "i", 0, defaultBackend(upstreamBackend("up")))),
			want: &snapshot.Snapshot{
				DefaultBackend: &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: "upstream/a/up", Source: "a/i"},
				Upstreams:      []snapshot.Upstream{plainUpstream("a", "up", snapshot.Endpoint{Address: "10.5.0.1:80", Weight: 1})},
			},
			warnings: map[string][]string{"a/i": nil},
		},
		"a broken default backend means 404, not the next Ingress's": {
			in: input(with(web("b"),
				ingress("a", "older", 0, defaultBackend(backend("gone", 80))),
				ingress("b", "newer", 10, defaultBackend(backend("web", 80))))...),
			want:     &snapshot.Snapshot{},
			warnings: map[string][]string{"a/older": {ReasonServiceNotFound}, "b/newer": {ReasonDefaultBackendConflict}},
		},
	}
	run(t, cases)
}

// plainUpstream is what an Upstream with only static endpoints becomes.
func plainUpstream(ns, name string, eps ...snapshot.Endpoint) snapshot.Upstream {
	return snapshot.Upstream{
		Name: "upstream/" + ns + "/" + name, Endpoints: eps,
		Policy: snapshot.PolicyRoundRobin, Protocol: snapshot.ProtocolHTTP1, Source: ns + "/" + name,
	}
}
