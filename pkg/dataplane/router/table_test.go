package router

import (
	"fmt"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func prefix(path, upstream string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathPrefix, Path: path, Upstream: upstream}
}

func exact(path, upstream string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathExact, Path: path, Upstream: upstream}
}

func host(name string, routes ...snapshot.Route) snapshot.VirtualHost {
	return snapshot.VirtualHost{Name: name, Routes: routes}
}

func snap(hosts ...snapshot.VirtualHost) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Hosts: hosts}
	seen := map[string]bool{}
	for _, h := range hosts {
		for _, r := range h.Routes {
			if !seen[r.Upstream] {
				seen[r.Upstream] = true
				s.Upstreams = append(s.Upstreams, snapshot.Upstream{Name: r.Upstream})
			}
		}
	}
	return s
}

func TestMatch(t *testing.T) {
	rules := snap(
		host("foo.com", prefix("/", "foo-root"), prefix("/aaa", "foo-aaa"), exact("/aaa", "foo-aaa-exact"),
			prefix("/bbb/", "foo-bbb"), exact("/ccc/", "foo-ccc-slash"), prefix("/aaa/bbb", "foo-aaa-bbb")),
		host("*.foo.com", prefix("/", "wild")),
		host("bar.foo.com", exact("/only", "bar-only")),
		host("", prefix("/any", "any")),
	)
	withDefault := snap(host("foo.com", exact("/x", "x")))
	withDefault.Upstreams = append(withDefault.Upstreams, snapshot.Upstream{Name: "default"})
	withDefault.DefaultBackend = &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: "default"}

	tests := []struct {
		name       string
		s          *snapshot.Snapshot
		host, path string
		want       string // upstream; "" means no match
	}{
		{"exact host, root prefix", rules, "foo.com", "/zzz", "foo-root"},
		{"host ignores case", rules, "FoO.CoM", "/zzz", "foo-root"},
		{"host ignores port", rules, "foo.com:8080", "/zzz", "foo-root"},
		{"host ignores trailing dot", rules, "foo.com.", "/zzz", "foo-root"},
		{"prefix matches itself", rules, "foo.com", "/aaa/", "foo-aaa"},
		{"exact beats prefix on equal path", rules, "foo.com", "/aaa", "foo-aaa-exact"},
		{"prefix matches child element", rules, "foo.com", "/aaa/ccc", "foo-aaa"},
		{"prefix does not match partial element", rules, "foo.com", "/aaaccc", "foo-root"},
		{"longest prefix wins", rules, "foo.com", "/aaa/bbb/c", "foo-aaa-bbb"},
		{"trailing slash on prefix rule ignored", rules, "foo.com", "/bbb", "foo-bbb"},
		{"exact is whole path", rules, "foo.com", "/ccc/", "foo-ccc-slash"},
		{"exact trailing slash significant", rules, "foo.com", "/ccc", "foo-root"},
		{"exact is case-sensitive", rules, "foo.com", "/AAA", "foo-root"},
		{"wildcard one label", rules, "baz.foo.com", "/", "wild"},
		{"wildcard not two labels", rules, "a.baz.foo.com", "/any", "any"},
		{"wildcard not the bare domain", rules, "foo.com", "/", "foo-root"},
		{"exact host beats wildcard", rules, "bar.foo.com", "/only", "bar-only"},
		{"selected host does not fall back", rules, "bar.foo.com", "/any", ""},
		{"unknown host uses catch-all", rules, "other.org", "/any/x", "any"},
		{"catch-all without match", rules, "other.org", "/none", ""},
		{"IPv6 host with port", rules, "[::1]:80", "/any", "any"},
		{"default backend when nothing matches", withDefault, "foo.com", "/y", "default"},
		{"default backend for unknown host", withDefault, "nope", "/", "default"},
		{"route before default backend", withDefault, "foo.com", "/x", "x"},
		{"no hosts, no default", snap(), "foo.com", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := Compile(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			m, ok := table.Match(tt.host, tt.path)
			got := ""
			if ok {
				got = tt.s.Upstreams[m.Upstream].Name
				if m.Route.Upstream != got {
					t.Fatalf("route names %q but index points at %q", m.Route.Upstream, got)
				}
			}
			if got != tt.want {
				t.Errorf("Match(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	unknown := &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{host("a", prefix("/", "missing"))}}
	tests := map[string]*snapshot.Snapshot{
		"unknown upstream":   unknown,
		"relative path":      snap(host("a", prefix("x", "u"))),
		"empty path":         snap(host("a", prefix("", "u"))),
		"duplicate host":     snap(host("a", prefix("/", "u")), host("A", prefix("/", "u"))),
		"wildcard mid-label": snap(host("a*.b", prefix("/", "u"))),
		"two catch-alls":     snap(host("", prefix("/", "u")), host("", prefix("/", "u"))),
	}
	for name, s := range tests {
		if _, err := Compile(s); err == nil {
			t.Errorf("%s: Compile accepted it", name)
		}
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	table, err := Compile(benchSnapshot(20, 5))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"host-3.example.com", "X.WILD-3.example.com:443", "unknown.org"} {
		allocs := testing.AllocsPerRun(1000, func() { table.Match(h, "/path-2/sub") })
		if allocs != 0 {
			t.Errorf("Match(%q) allocates %v per call", h, allocs)
		}
	}
}

func benchSnapshot(hosts, paths int) *snapshot.Snapshot {
	var vhs []snapshot.VirtualHost
	for h := range hosts {
		var routes []snapshot.Route
		for p := range paths {
			routes = append(routes, prefix(fmt.Sprintf("/path-%d", p), "u"), exact(fmt.Sprintf("/exact-%d", p), "u"))
		}
		vhs = append(vhs, host(fmt.Sprintf("host-%d.example.com", h), routes...),
			host(fmt.Sprintf("*.wild-%d.example.com", h), routes...))
	}
	vhs = append(vhs, host("", prefix("/", "u")))
	return snap(vhs...)
}

func BenchmarkMatch(b *testing.B) {
	table, err := Compile(benchSnapshot(200, 10))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		table.Match("Host-150.example.com:8443", "/path-7/some/deeper/path")
	}
}
