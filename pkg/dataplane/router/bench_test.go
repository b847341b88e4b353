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
			ctx := r.NewCtx()
			if handled, err := r.RequestFilter(s, ctx); handled || err != nil {
				b.Fatalf("not routed: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Logging(s, nil, ctx)
			}
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
		})
	}
}
