package translate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// multi is a Service with two ports whose targets differ, spread over two
// slices with every kind of readiness, a duplicate and an FQDN slice.
func multi() []any {
	fqdn := endpointSlice("default", "multi", "multi-fqdn", map[string]int32{"http": 8080}, readyEP("db.example.com"))
	fqdn.AddressType = discoveryv1.AddressTypeFQDN
	v6 := endpointSlice("default", "multi", "multi-v6", map[string]int32{"http": 8080, "grpc": 9090}, readyEP("fd00::1"))
	v6.AddressType = discoveryv1.AddressTypeIPv6
	return []any{
		service("default", "multi", svcPort("http", 80), svcPort("grpc", 90)),
		endpointSlice("default", "multi", "multi-a", map[string]int32{"http": 8080, "grpc": 9090},
			readyEP("10.0.0.1"), notReadyEP("10.0.0.2"), unknownEP("10.0.0.3"), readyEP("not-an-ip")),
		endpointSlice("default", "multi", "multi-b", map[string]int32{"http": 8080, "grpc": 9090},
			readyEP("10.0.0.1"), notReadyEP("10.0.0.4")),
		fqdn, v6,
	}
}

func TestServiceBackends(t *testing.T) {
	httpUp := svcUpstream("default", "multi", 80, "10.0.0.1:8080", "10.0.0.3:8080", "[fd00::1]:8080")
	grpcUp := svcUpstream("default", "multi", 90, "10.0.0.1:9090", "10.0.0.3:9090", "[fd00::1]:9090")
	cases := map[string]tcase{
		"numbered and named ports resolve to the slice port of the same name": {
			in: input(with(multi(), ingress("default", "i", 0, rule("a.com",
				prefix("/by-number", backend("multi", 80)),
				prefix("/by-name", backendNamed("multi", "http")),
				prefix("/grpc", backend("multi", 90)))))...),
			want: &snapshot.Snapshot{
				Hosts: []snapshot.VirtualHost{vhost("a.com",
					prefixRoute("/by-number", httpUp.Name, "default/i"),
					prefixRoute("/by-name", httpUp.Name, "default/i"),
					prefixRoute("/grpc", grpcUp.Name, "default/i"))},
				Upstreams: []snapshot.Upstream{httpUp, grpcUp},
			},
			warnings: map[string][]string{"default/i": nil},
		},
		"unnamed single port": {
			in: input(service("default", "one", svcPort("", 80)),
				endpointSlice("default", "one", "one-x", map[string]int32{"": 3000}, readyEP("10.1.0.1")),
				ingress("default", "i", 0, rule("a.com", prefix("/", backend("one", 80))))),
			want: &snapshot.Snapshot{
				Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "service/default/one/80", "default/i"))},
				Upstreams: []snapshot.Upstream{svcUpstream("default", "one", 80, "10.1.0.1:3000")},
			},
			warnings: map[string][]string{"default/i": nil},
		},
		"zero ready endpoints keeps the route and warns": {
			in: input(service("default", "down", svcPort("http", 80)),
				endpointSlice("default", "down", "down-x", map[string]int32{"http": 8080}, notReadyEP("10.2.0.1")),
				ingress("default", "i", 0, rule("a.com", prefix("/", backend("down", 80))))),
			want: &snapshot.Snapshot{
				Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "service/default/down/80", "default/i"))},
				Upstreams: []snapshot.Upstream{svcUpstream("default", "down", 80)},
			},
			warnings: map[string][]string{"default/i": {ReasonNoReadyEndpoints}},
		},
		"every broken backend drops only its own route": {
			in: input(with(web("default"),
				externalName("default", "ext"),
				service("default", "dns", corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}),
				ingress("default", "i", 0, rule("a.com",
					prefix("/missing", backend("nope", 80)),
					prefix("/bad-port", backend("web", 81)),
					prefix("/bad-port-name", backendNamed("web", "https")),
					prefix("/no-port", backend("web", 0)),
					prefix("/ext", backend("ext", 80)),
					prefix("/udp", backend("dns", 53)),
					prefix("/no-upstream", upstreamBackend("nope")),
					prefix("/wrong-kind", resourceBackend("example.com", "Bucket", "b")),
					prefix("/empty", emptyBackend()),
					prefix("/", backend("web", 80)))))...),
			want: &snapshot.Snapshot{
				Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "service/default/web/80", "default/i"))},
				Upstreams: []snapshot.Upstream{webUpstream("default")},
			},
			warnings: map[string][]string{"default/i": {
				ReasonServiceNotFound, ReasonPortNotFound, ReasonPortNotFound, ReasonPortNotFound,
				ReasonUnsupportedService, ReasonPortNotFound, ReasonUpstreamNotFound,
				ReasonUnsupportedBackend, ReasonUnsupportedBackend}},
		},
		"appProtocol h2c": {
			in: input(h2cService(), ingress("default", "i", 0, rule("a.com", prefix("/", backend("grpc", 80))))),
			want: &snapshot.Snapshot{
				Hosts: []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "service/default/grpc/80", "default/i"))},
				Upstreams: []snapshot.Upstream{func() snapshot.Upstream {
					u := svcUpstream("default", "grpc", 80)
					u.Protocol = snapshot.ProtocolH2C
					return u
				}()},
			},
			warnings: map[string][]string{"default/i": {ReasonNoReadyEndpoints}},
		},
	}
	run(t, cases)
}

func externalName(ns, name string) corev1.Service {
	s := service(ns, name, svcPort("http", 80))
	s.Spec.Type = corev1.ServiceTypeExternalName
	s.Spec.ExternalName = "example.com"
	return s
}

func h2cService() corev1.Service {
	p := svcPort("grpc", 80)
	proto := AppProtocolH2C
	p.AppProtocol = &proto
	return service("default", "grpc", p)
}

func TestMissingRefWarningsSayWhatAndWhere(t *testing.T) {
	out := Translate(input(ingress("default", "i", 0, rule("a.com", prefix("/api", backend("nope", 80))))))
	got := out.Ingresses.Slice()[0].Warnings
	want := []Warning{{Reason: ReasonServiceNotFound,
		Message: `host "a.com" path "/api": Service "default/nope" not found`}}
	mustEqualJSON(t, "warnings", got, want)
	conds := out.Ingresses.Slice()[0].Conditions
	if conds[0].Type != ConditionAccepted || conds[0].Status != "True" {
		t.Errorf("Accepted = %+v, want True: the rule itself is fine", conds[0])
	}
	if conds[1].Type != ConditionResolvedRefs || conds[1].Status != "False" ||
		conds[1].Reason != ReasonServiceNotFound || conds[1].Message != want[0].Message {
		t.Errorf("ResolvedRefs = %+v, want False with the warning", conds[1])
	}
	if conds[1].ObservedGeneration != 1 {
		t.Errorf("ObservedGeneration = %d, want the Ingress generation 1", conds[1].ObservedGeneration)
	}
}

func TestConditionMessageCountsFurtherProblems(t *testing.T) {
	out := Translate(input(ingress("default", "i", 0, rule("a.com",
		prefix("/a", backend("x", 80)), prefix("/b", backend("y", 80)), prefix("/c", backend("z", 80))))))
	c := out.Ingresses.Slice()[0].Conditions[1]
	want := `host "a.com" path "/a": Service "default/x" not found (and 2 more problems, see events)`
	if c.Message != want {
		t.Errorf("message = %q, want %q", c.Message, want)
	}
}

func TestCrossNamespaceReferencesAreRefused(t *testing.T) {
	// Everything the Ingress in "tenant" names exists, but in "other".
	in := input(with(web("other"),
		tlsSecret("other", "cert"),
		upstream("other", "up", static(staticEP("10.9.0.1", 80, 0))),
		ingress("tenant", "i", 0,
			rule("a.com", prefix("/", backend("web", 80)), prefix("/up", upstreamBackend("up"))),
			tlsFor("cert", "a.com")),
		// A Service in "tenant" must not pick up the slices of "other".
		service("tenant", "web2", svcPort("http", 80)),
		endpointSlice("other", "web2", "web2-x", map[string]int32{"http": 8080}, readyEP("10.0.0.9")),
		ingress("tenant", "j", 1, rule("b.com", prefix("/", backend("web2", 80)))),
		// An Upstream's serviceRef stays in its namespace too.
		upstream("tenant", "ref", serviceRef("web", 80, "")),
	)...)
	out := Translate(in)
	mustEqualJSON(t, "snapshot", out.Snapshot, &snapshot.Snapshot{
		Hosts:     []snapshot.VirtualHost{vhost("b.com", prefixRoute("/", "service/tenant/web2/80", "tenant/j"))},
		Upstreams: []snapshot.Upstream{svcUpstream("tenant", "web2", 80)},
	})
	mustEqualJSON(t, "i", reasons(out, "tenant/i"),
		[]string{ReasonServiceNotFound, ReasonUpstreamNotFound, ReasonSecretNotFound})
	mustEqualJSON(t, "j", reasons(out, "tenant/j"), []string{ReasonNoReadyEndpoints})
	ref := findUpstream(t, out, "tenant/ref")
	if ref.Status.Conditions[1].Reason != ReasonServiceNotFound {
		t.Errorf("Upstream tenant/ref ResolvedRefs = %+v, want ServiceNotFound", ref.Status.Conditions[1])
	}
}

func findUpstream(t *testing.T, out Output, key string) UpstreamResult {
	t.Helper()
	for _, u := range out.Upstreams {
		if u.Key.String() == key {
			return u
		}
	}
	t.Fatalf("no result for Upstream %s", key)
	return UpstreamResult{}
}
