package translate

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// TestHostDefaultBackendStaysInItsNamespace is the isolation rule for
// default backends: a host's unrouted paths go only to a defaultBackend of
// an Ingress of the namespace that declared the host, never to another
// tenant's (once, team-a's rule-less default became everyone's fallback).
func TestHostDefaultBackendStaysInItsNamespace(t *testing.T) {
	a, b := "service/team-a/web/80", "service/team-b/web/80"
	cases := map[string]tcase{
		"a rule-less default is the catch-all only, not another namespace's host fallback": {
			in: input(with(with(web("team-a"), web("team-b")...),
				ingress("team-a", "catch-all", 0, defaultBackend(backend("web", 80))),
				ingress("team-b", "shop", 5, rule("shop.b.com", prefix("/app", backend("web", 80)))))...),
			want: &snapshot.Snapshot{
				Hosts:          []snapshot.VirtualHost{vhost("shop.b.com", prefixRoute("/app", b, "team-b/shop"))},
				DefaultBackend: &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: a, Source: "team-a/catch-all"},
				Upstreams:      []snapshot.Upstream{webUpstream("team-a"), webUpstream("team-b")},
			},
			warnings: map[string][]string{"team-a/catch-all": nil, "team-b/shop": nil},
		},
		"an Ingress's own default backend serves its host's unrouted paths": {
			in: input(with(web("team-b"),
				ingress("team-b", "shop", 0, rule("shop.b.com", prefix("/app", backend("web", 80))), defaultBackend(backend("web", 80))))...),
			want: &snapshot.Snapshot{
				Hosts: []snapshot.VirtualHost{vhost("shop.b.com",
					prefixRoute("/app", b, "team-b/shop"), prefixRoute("/", b, "team-b/shop"))},
				Upstreams: []snapshot.Upstream{webUpstream("team-b")},
			},
			warnings: map[string][]string{"team-b/shop": nil},
		},
		"a host's default may come from another Ingress of the same namespace": {
			in: input(with(web("team-b"),
				ingress("team-b", "paths", 0, rule("shop.b.com", prefix("/app", backend("web", 80)))),
				ingress("team-b", "fallback", 5, rule("shop.b.com"), defaultBackend(backend("web", 80))))...),
			want: &snapshot.Snapshot{
				Hosts: []snapshot.VirtualHost{vhost("shop.b.com",
					prefixRoute("/app", b, "team-b/paths"), prefixRoute("/", b, "team-b/fallback"))},
				Upstreams: []snapshot.Upstream{webUpstream("team-b")},
			},
			warnings: map[string][]string{"team-b/paths": nil, "team-b/fallback": nil},
		},
		"a namespace that joined a host later cannot set its default": {
			in: input(with(with(web("team-a"), web("team-b")...),
				ingress("team-b", "shop", 0, rule("shop.b.com", prefix("/app", backend("web", 80)))),
				ingress("team-a", "intruder", 5, rule("shop.b.com", prefix("/a-only", backend("web", 80))), defaultBackend(backend("web", 80))))...),
			want: &snapshot.Snapshot{
				Hosts: []snapshot.VirtualHost{vhost("shop.b.com",
					prefixRoute("/a-only", a, "team-a/intruder"), prefixRoute("/app", b, "team-b/shop"))},
				Upstreams: []snapshot.Upstream{webUpstream("team-a"), webUpstream("team-b")},
			},
			warnings: map[string][]string{"team-b/shop": nil, "team-a/intruder": {ReasonDefaultBackendConflict}},
		},
		"an explicit / path beats the host default, even with a broken backend": {
			in: input(with(web("team-b"),
				ingress("team-b", "root", 0, rule("shop.b.com", prefix("/", backend("gone", 80)))),
				ingress("team-b", "fallback", 5, rule("shop.b.com"), defaultBackend(backend("web", 80))))...),
			want:     &snapshot.Snapshot{Upstreams: []snapshot.Upstream{webUpstream("team-b")}},
			warnings: map[string][]string{"team-b/root": {ReasonServiceNotFound}, "team-b/fallback": nil},
		},
		"the older of two same-namespace defaults for a host wins": {
			in: input(with(web("team-b"),
				ingress("team-b", "older", 0, rule("shop.b.com"), defaultBackend(backend("web", 80))),
				ingress("team-b", "newer", 5, rule("shop.b.com"), defaultBackend(backend("web", 80))))...),
			want: &snapshot.Snapshot{
				Hosts:     []snapshot.VirtualHost{vhost("shop.b.com", prefixRoute("/", b, "team-b/older"))},
				Upstreams: []snapshot.Upstream{webUpstream("team-b")},
			},
			warnings: map[string][]string{"team-b/older": nil, "team-b/newer": {ReasonDefaultBackendConflict}},
		},
	}
	run(t, cases)
}

func TestDefaultBackendService(t *testing.T) {
	sys := "service/ingress-system/fallback/80"
	fallback := with(nil, service("ingress-system", "fallback", svcPort("http", 80)),
		endpointSlice("ingress-system", "fallback", "fallback-1", map[string]int32{"http": 8080}, readyEP("10.0.9.1")))
	withFlag := func(in Input, port int32) Input {
		in.DefaultBackendService = &DefaultBackendService{Key: types.NamespacedName{Namespace: "ingress-system", Name: "fallback"}, Port: port}
		return in
	}
	cases := map[string]tcase{
		"the flag overrides a rule-less Ingress": {
			in: withFlag(input(with(with(fallback, web("team-a")...),
				ingress("team-a", "catch-all", 0, defaultBackend(backend("web", 80))))...), 0),
			want: &snapshot.Snapshot{
				DefaultBackend: &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: sys, Source: "--default-backend-service ingress-system/fallback"},
				Upstreams:      []snapshot.Upstream{svcUpstream("ingress-system", "fallback", 80, "10.0.9.1:8080")},
			},
			warnings: map[string][]string{"team-a/catch-all": {ReasonDefaultBackendConflict}},
		},
		"a missing flag Service answers 503, never a tenant's backend": {
			in: withFlag(input(with(web("team-a"),
				ingress("team-a", "catch-all", 0, defaultBackend(backend("web", 80))))...), 80),
			want: &snapshot.Snapshot{
				DefaultBackend: &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: sys, Source: "--default-backend-service ingress-system/fallback"},
				Upstreams: []snapshot.Upstream{{Name: sys, Policy: snapshot.PolicyRoundRobin,
					Protocol: snapshot.ProtocolHTTP1, Source: "ingress-system/fallback"}},
			},
			warnings: map[string][]string{"team-a/catch-all": {ReasonDefaultBackendConflict}},
		},
	}
	run(t, cases)
}
