package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func addressesOf(t *testing.T, out Output, key string) []string {
	t.Helper()
	var got []string
	for _, a := range gatewayStatus(t, out, key).Addresses {
		got = append(got, a.Value)
	}
	return got
}

// TestAddressAssignment: unique addresses from the pool, the oldest
// Gateway first; an address a status shows is kept; spec.addresses are
// honoured inside the pool and refused outside it.
func TestAddressAssignment(t *testing.T) {
	l := httpListener("http", 80)
	cases := []struct {
		name string
		gws  []any
		want map[string]string // key → address or Programmed reason
	}{
		{"lowest free, oldest first, network address skipped",
			[]any{gw("b", "young", 5, l), gw("a", "old", 1, l)},
			map[string]string{"a/old": "10.9.0.1", "b/young": "10.9.0.2"}},
		{"status address kept across restarts",
			[]any{gw("a", "old", 1, l), gw("b", "young", 5, l, statusAddress("10.9.0.7"))},
			map[string]string{"a/old": "10.9.0.1", "b/young": "10.9.0.7"}},
		{"two statuses show one address: the older keeps it",
			[]any{gw("a", "old", 1, l, statusAddress("10.9.0.7")), gw("b", "young", 5, l, statusAddress("10.9.0.7"))},
			map[string]string{"a/old": "10.9.0.7", "b/young": "10.9.0.1"}},
		{"status address outside the pool is replaced",
			[]any{gw("a", "old", 1, l, statusAddress("192.0.2.1"))},
			map[string]string{"a/old": "10.9.0.1"}},
		{"spec address in the pool",
			[]any{gw("a", "old", 1, l), gw("b", "young", 5, l, specAddress("10.9.0.50"))},
			map[string]string{"a/old": "10.9.0.1", "b/young": "10.9.0.50"}},
		{"spec address outside the pool",
			[]any{gw("a", "old", 1, l, specAddress("192.0.2.1"))},
			map[string]string{"a/old": "False/AddressNotUsable"}},
		{"spec address taken by an older Gateway",
			[]any{gw("a", "old", 1, l, specAddress("10.9.0.9")), gw("b", "young", 5, l, specAddress("10.9.0.9"))},
			map[string]string{"a/old": "10.9.0.9", "b/young": "False/AddressNotUsable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(input(tc.gws...))
			for key, want := range tc.want {
				st := gatewayStatus(t, out, key)
				got := reasonOf(st.Conditions, gatewayv1.GatewayConditionProgrammed)
				if got == "True/Programmed" {
					got = addressesOf(t, out, key)[0]
				}
				if got != want {
					t.Errorf("%s: %s, want %s", key, got, want)
				}
			}
		})
	}
}

// TestAddressPoolLimits: no pool, an exhausted pool and an unsupported
// address type each leave the Gateway unprogrammed, with the reason.
func TestAddressPoolLimits(t *testing.T) {
	l := httpListener("http", 80)
	in := input(gw("a", "g", 1, l))
	in.AddressPool = netip.Prefix{}
	if got := reasonOf(gatewayStatus(t, Translate(in), "a/g").Conditions, gatewayv1.GatewayConditionProgrammed); got != "False/AddressNotAssigned" {
		t.Errorf("no pool: Programmed %s", got)
	}
	in = input(gw("a", "g1", 1, l), gw("a", "g2", 2, l), gw("a", "g3", 3, l))
	in.AddressPool = netip.MustParsePrefix("10.9.0.0/31")
	out := Translate(in)
	if got := reasonOf(gatewayStatus(t, out, "a/g3").Conditions, gatewayv1.GatewayConditionProgrammed); got != "False/AddressNotAssigned" {
		t.Errorf("exhausted: Programmed %s", got)
	}
	if len(out.Gateways) != 2 {
		t.Errorf("gateways served: %+v", out.Gateways)
	}
	hostname := gatewayv1.HostnameAddressType
	g := gw("a", "g", 1, l)
	g.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &hostname, Value: "gw.example.com"}}
	if got := reasonOf(gatewayStatus(t, Translate(input(g)), "a/g").Conditions, gatewayv1.GatewayConditionAccepted); got != "False/UnsupportedAddress" {
		t.Errorf("hostname address: Accepted %s", got)
	}
}

// TestGatewayIsolation: a route attached to one Gateway is only in that
// Gateway's part of the snapshot, reached on its own address.
func TestGatewayIsolation(t *testing.T) {
	b := rule(backendTo(svcRef("web", 80)))
	out := Translate(input(service("team", "web", ""),
		gw("team", "one", 0, httpListener("http", 80)), gw("team", "two", 1, httpListener("http", 80)),
		httpRoute("team", "to-one", 0, parent("one"), hostnames("one.example.com"), b),
		httpRoute("team", "to-two", 0, parent("two"), hostnames("two.example.com"), b)))
	dataPlaneCheck(t, out)
	if len(out.Gateways) != 2 {
		t.Fatalf("gateways: %+v", out.Gateways)
	}
	for _, g := range out.Gateways {
		hosts := g.Ports[0].Hosts
		want := map[string]string{"team/one": "one.example.com", "team/two": "two.example.com"}[g.Name]
		if len(hosts) != 1 || hosts[0].Name != want {
			t.Errorf("%s serves %+v", g.Name, hosts)
		}
	}
	if out.Gateways[0].Addresses[0] == out.Gateways[1].Addresses[0] {
		t.Errorf("both gateways have address %s", out.Gateways[0].Addresses[0])
	}
}

// TestListenerIsolation: on one port, a host of a more specific listener
// holds only that listener's routes.
func TestListenerIsolation(t *testing.T) {
	b := rule(backendTo(svcRef("web", 80)))
	out := Translate(input(service("team", "web", ""), gw("team", "gw", 0,
		httpListener("wild", 80, hostname("*.example.com")), httpListener("foo", 80, hostname("foo.example.com"))),
		httpRoute("team", "wild", 0, parent("gw", section("wild")), b),
		httpRoute("team", "foo", 1, parent("gw", section("foo")), b)))
	for host, want := range map[string]string{"*.example.com": "team/wild", "foo.example.com": "team/foo"} {
		rs := routesOf(out, "team/gw", 80, host)
		if len(rs) != 1 || rs[0].Source != want {
			t.Errorf("%s: %+v", host, rs)
		}
	}
}

// TestListenerIsolationByMostSpecificListener follows the suite's
// GatewayHTTPListenerIsolation: a request is served only by the routes of
// the most specific listener its host matches, even when a route of a
// less specific listener names that host, and a listener without routes
// of its own still takes its hosts away from the others.
func TestListenerIsolationByMostSpecificListener(t *testing.T) {
	listeners := map[string]string{"empty": "", "wild": "*.example.com", "wild-foo": "*.foo.example.com", "abc": "abc.foo.example.com"}
	opts := []gwOption{httpListener("empty", 80), httpListener("quiet", 80, hostname("*.quiet.example.com"))}
	objs := []any{service("team", "web", "")}
	for _, name := range []string{"wild", "wild-foo", "abc"} {
		opts = append(opts, httpListener(name, 80, hostname(listeners[name])))
	}
	for _, name := range []string{"empty", "wild", "wild-foo", "abc"} {
		withPath := rule(backendTo(svcRef("web", 80)), match(pathMatchOf(gatewayv1.PathMatchPathPrefix, "/"+name)))
		objs = append(objs, httpRoute("team", name, 0, parent("gw", section(name)), withPath,
			hostnames("bar.com", "*.example.com", "*.foo.example.com", "abc.foo.example.com")))
	}
	objs = append(objs, gw("team", "gw", 0, opts...))
	out := Translate(input(objs...))
	dataPlaneCheck(t, out)
	table, err := router.Compile(&snapshot.Snapshot{Gateways: out.Gateways, Upstreams: out.Upstreams})
	if err != nil {
		t.Fatal(err)
	}
	addr := net.ParseIP(out.Gateways[0].Addresses[0])
	cases := map[string]string{ // host -> the only listener whose routes serve it
		"bar.com": "empty", "bar.example.com": "wild", "bar.foo.example.com": "wild-foo",
		"abc.foo.example.com": "abc", "x.quiet.example.com": "",
	}
	for host, want := range cases {
		for _, name := range []string{"empty", "wild", "wild-foo", "abc"} {
			req := httptest.NewRequest(http.MethodGet, "http://"+host+"/"+name, nil)
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: addr, Port: 80}))
			m, ok := table.MatchFields(req, (&proxy.Session{Request: req}).RequestHeader())
			if served := ok && m.Route.Source == "team/"+name; served != (name == want) {
				t.Errorf("%s/%s: served by %s is %v, want %v", host, name, name, served, name == want)
			}
		}
	}
}
