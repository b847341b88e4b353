package router

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
	"github.com/baton-dev/baton/pkg/lb"
)

// servicePaths are the ten routes of a typical service host.
func servicePaths(upstream string) []snapshot.Route {
	return []snapshot.Route{
		prefix("/api/v1/users", upstream), prefix("/api/v1/orders", upstream), prefix("/api/v2", upstream),
		prefix("/api/v3/items", upstream), prefix("/static/", upstream), exact("/login", upstream),
		exact("/logout", upstream), prefix("/admin", upstream), exact("/graphql", upstream), prefix("/ws", upstream),
	}
}

// benchSnapshot is a realistic table: hosts service hosts with paths routes
// each (servicePaths repeated), a wildcard host per ten of them, one host
// with 200 prefixes (indexed), a catch-all and a default backend.
func benchSnapshot(hosts, paths int) *snapshot.Snapshot {
	var vhs []snapshot.VirtualHost
	for h := range hosts {
		up := fmt.Sprintf("svc-%d", h)
		var routes []snapshot.Route
		for len(routes) < paths {
			routes = append(routes, servicePaths(up)...)
		}
		vhs = append(vhs, host(up+".example.com", routes[:paths]...))
		if h%10 == 0 {
			vhs = append(vhs, host(fmt.Sprintf("*.tenant-%d.example.com", h), prefix("/", up)))
		}
	}
	vhs = append(vhs, host("*.apps.example.com", prefix("/static", "apps"), prefix("/", "apps")))
	var big []snapshot.Route
	for i := range 200 {
		big = append(big, prefix(fmt.Sprintf("/route-%d", i), "big"))
	}
	vhs = append(vhs, host("big.example.com", big...))
	vhs = append(vhs, host("", prefix("/healthz", "health")))
	return withDefault(snap(vhs...), "default")
}

func BenchmarkMatch(b *testing.B) {
	table, err := Compile(benchSnapshot(200, 10))
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct{ name, host, path string }{
		{"exact-host", "svc-150.example.com", "/api/v3/items/42"},
		{"exact-host-port-case", "SVC-150.Example.com:8443", "/api/v3/items/42"},
		{"exact-path", "svc-150.example.com", "/graphql"},
		{"wildcard-host", "acme.tenant-120.example.com", "/dashboard"},
		{"catch-all-host", "unknown.org", "/healthz"},
		{"indexed-prefixes", "big.example.com", "/route-150/deeper/path"},
		{"default-backend", "unknown.example.org", "/nothing/here"},
	}
	for _, c := range cases {
		if _, ok := table.Match(c.host, c.path); !ok {
			b.Fatalf("%s matches nothing", c.name)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				table.Match(c.host, c.path)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	s := benchSnapshot(200, 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalisePath(b *testing.B) {
	for _, raw := range []string{"/api/v3/items/42", "/static/js/app.min.js;v=3", "/a/../b/./c"} {
		b.Run(raw, func(b *testing.B) {
			u, err := url.ParseRequestURI(raw)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				req := http.Request{Method: http.MethodGet, URL: &url.URL{Path: u.Path, RawPath: u.RawPath}}
				normalisePath(&req)
			}
		})
	}
}

// BenchmarkApplyCertificates applies snapshots with 1,000 certificates
// that differ only in their endpoints, as EndpointSlice churn does.
func BenchmarkApplyCertificates(b *testing.B) {
	s := &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{host("a.test", prefix("/", "u"))}}
	for i := range 1000 {
		name := fmt.Sprintf("h%d.example.com", i)
		c, err := snapshottest.SelfSigned(name, name)
		if err != nil {
			b.Fatal(err)
		}
		s.Certificates = append(s.Certificates, c)
	}
	r := New(lb.NewRegistry(lb.RegistryOptions{}), nil)
	b.Cleanup(r.registry.Close)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		s.Version = uint64(n)
		s.Upstreams = []snapshot.Upstream{{Name: "u", Endpoints: []snapshot.Endpoint{{Address: fmt.Sprintf("127.0.0.1:%d", 1000+n%50)}}}}
		if err := r.Apply(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogging is the Logging phase's cost per request, without and
// with the access log: the line is formatted on the request's goroutine,
// written by another. dropped/op > 0 means the writer fell behind.
func BenchmarkLogging(b *testing.B) {
	for _, mode := range []string{"off", "json", "text"} {
		b.Run("accesslog="+mode, func(b *testing.B) {
			r := New(lb.NewRegistry(lb.RegistryOptions{}), nil)
			b.Cleanup(r.registry.Close)
			if err := r.Apply(snap(host("a.test", prefix("/", "u")))); err != nil {
				b.Fatal(err)
			}
			var l *accesslog.Logger
			if mode != "off" {
				format, _ := accesslog.ParseFormat(mode)
				l = accesslog.New(io.Discard, accesslog.Options{Format: format})
				r.SetAccessLog(l)
				b.Cleanup(func() { l.Close(context.Background()) })
			}
			req := httptest.NewRequest("GET", "http://a.test/api/v1/users/42", nil)
			s := &proxy.Session{Request: req, Start: time.Now(), Status: 200, Attempt: 1, BytesSent: 1234,
				RequestID: "0123456789abcdef0123456789abcdef", ClientAddr: netip.MustParseAddr("203.0.113.7")}
			routed := r.NewCtx()
			if handled, err := r.RequestFilter(s, routed); handled || err != nil {
				b.Fatalf("not routed: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				// Logging recycles its context: each round logs a fresh copy.
				ctx := r.NewCtx()
				*ctx = *routed
				r.Logging(s, nil, ctx)
			}
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
		})
	}
}

// gatewayBenchSnapshot is benchSnapshot plus a host of ten Gateway API
// routes on "/" that differ by header, query, method and regex path, and
// a gateway on 10.0.0.1:80 serving the same host.
func gatewayBenchSnapshot() *snapshot.Snapshot {
	s := benchSnapshot(200, 10)
	h := func(name, value string) routeOpt { return withHeader(name, value, false) }
	routes := []snapshot.Route{
		gwRoute(pfx, "/", "gw-v1", h("Version", "one")),
		gwRoute(pfx, "/", "gw-v2", h("Version", "two")),
		gwRoute(pfx, "/", "gw-v3", h("Version", "two"), h("Color", "orange")),
		gwRoute(pfx, "/", "gw-v1", h("Color", "blue")),
		gwRoute(pfx, "/", "gw-v2", h("Color", "red")),
		gwRoute(pfx, "/", "gw-v2", withHeader("X-Id", "[0-9a-f]{8}", true)),
		gwRoute(pfx, "/", "gw-v1", withQuery("animal", "whale", false)),
		gwRoute(pfx, "/", "gw-v1", withMethod("POST")),
		gwRoute(regex, "/items/[0-9]+", "gw-v3"),
		gwRoute(pfx, "/split", "", withBackends(snapshot.WeightedBackend{Upstream: "gw-v1", Weight: 70},
			snapshot.WeightedBackend{Upstream: "gw-v2", Weight: 30})),
	}
	vh := host("gw.example.com", routes...)
	s.Hosts = append(s.Hosts, vh)
	s.Gateways = []snapshot.Gateway{{Name: "ns/gw", Addresses: []string{"10.0.0.1"},
		Ports: []snapshot.GatewayPort{{Port: 80, Hosts: []snapshot.VirtualHost{vh}}}}}
	for _, r := range routes {
		addUpstream(s, r.Upstream)
	}
	return s
}

// matchRequestCase is a request and the table it is matched against.
type matchRequestCase struct {
	name  string
	table *Table
	req   *http.Request
}

// matchRequestCases are an Ingress host as in BenchmarkMatch (with and
// without gateways in the table), and each matcher Gateway API adds.
func matchRequestCases(tb testing.TB) []matchRequestCase {
	ingressOnly, err := Compile(benchSnapshot(200, 10))
	if err != nil {
		tb.Fatal(err)
	}
	withGateways, err := Compile(gatewayBenchSnapshot())
	if err != nil {
		tb.Fatal(err)
	}
	cases := []matchRequestCase{
		{"ingress-host", ingressOnly, newRequest("GET", "svc-150.example.com", "/api/v3/items/42", "127.0.0.1:80")},
		{"ingress-host-gateways-in-table", withGateways, newRequest("GET", "svc-150.example.com", "/api/v3/items/42", "127.0.0.1:80")},
		{"header-first-route", withGateways, newRequest("GET", "gw.example.com", "/", "", "Version", "one")},
		{"header-two-of-ten", withGateways, newRequest("GET", "gw.example.com", "/", "", "Version", "two", "Color", "orange")},
		{"header-repeated", withGateways, newRequest("GET", "gw.example.com", "/", "", "Color", "blue", "Color", "red")},
		{"header-regex", withGateways, newRequest("GET", "gw.example.com", "/", "", "X-Id", "0123abcd")},
		{"query", withGateways, newRequest("GET", "gw.example.com", "/?x=1&animal=whale", "")},
		{"method-last", withGateways, newRequest("POST", "gw.example.com", "/", "")},
		{"regex-path", withGateways, newRequest("GET", "gw.example.com", "/items/42", "")},
		{"weighted", withGateways, newRequest("GET", "gw.example.com", "/split", "")},
		{"gateway-address", withGateways, newRequest("GET", "gw.example.com", "/", "10.0.0.1:80", "Version", "one")},
	}
	for _, c := range cases {
		if _, ok := matchOf(c.table, c.req); !ok && c.name != "header-repeated" {
			tb.Fatalf("%s matches nothing", c.name)
		}
	}
	return cases
}

// BenchmarkMatchRequest is what RequestFilter pays per request: the
// header matches read the proxy's view of the fields (MatchFields).
func BenchmarkMatchRequest(b *testing.B) {
	for _, c := range matchRequestCases(b) {
		b.Run(c.name, func(b *testing.B) {
			fields := fieldsOf(c.req.Header)
			b.ReportAllocs()
			for b.Loop() {
				c.table.MatchFields(c.req, fields)
			}
		})
	}
}
