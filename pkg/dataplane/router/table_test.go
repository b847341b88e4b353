package router

import (
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func prefix(path, upstream string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathPrefix, Path: path, Upstream: upstream, Source: "ns/" + upstream}
}

func exact(path, upstream string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathExact, Path: path, Upstream: upstream, Source: "ns/" + upstream}
}

func host(name string, routes ...snapshot.Route) snapshot.VirtualHost {
	return snapshot.VirtualHost{Name: name, Routes: routes}
}

// snap builds a snapshot of hosts with one upstream per name the routes use.
func snap(hosts ...snapshot.VirtualHost) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Hosts: hosts}
	for _, h := range hosts {
		for _, r := range h.Routes {
			addUpstream(s, r.Upstream)
		}
	}
	return s
}

// addUpstream adds upstream name unless s has it; "" (a route with
// weighted backends instead) is no upstream.
func addUpstream(s *snapshot.Snapshot, name string) {
	if name != "" && s.Upstream(name) == nil {
		s.Upstreams = append(s.Upstreams, snapshot.Upstream{Name: name})
	}
}

// withDefault gives s a default backend sending everything to upstream.
func withDefault(s *snapshot.Snapshot, upstream string) *snapshot.Snapshot {
	addUpstream(s, upstream)
	r := prefix("/", upstream)
	s.DefaultBackend = &r
	return s
}

// matchName is the upstream Match picks, "" for no match (a 404). It also
// checks that the index and the route agree.
func matchName(t *testing.T, table *Table, s *snapshot.Snapshot, h, p string) string {
	t.Helper()
	m, ok := table.Match(h, p)
	if !ok {
		return ""
	}
	if got := s.Upstreams[m.Upstream].Name; got != m.Route.Upstream {
		t.Fatalf("Match(%q, %q): route names upstream %q but the index points at %q", h, p, m.Route.Upstream, got)
	}
	return m.Route.Upstream
}

func TestMatch(t *testing.T) {
	paths := snap(host("foo.com",
		prefix("/", "root"), prefix("/aaa", "aaa"), exact("/aaa", "aaa-exact"), prefix("/aaa/bbb", "aaa-bbb"),
		prefix("/bbb/", "bbb"), exact("/ccc/", "ccc-slash"), exact("/ddd", "ddd"), prefix("/CaSe", "case"),
		prefix("/dup", "dup-first"), prefix("/dup/", "dup-second"), exact("/x", "x-first"), exact("/x", "x-second")))
	hosts := snap(
		host("foo.com", prefix("/", "foo")),
		host("Upper.Example.com", prefix("/", "upper")),
		host("*.foo.com", prefix("/", "wild")),
		host("bar.foo.com", exact("/only", "bar-only")),
		host("*.strict.com", exact("/only", "strict-only")),
		host("127.0.0.1", prefix("/", "ipv4")),
		host("", prefix("/any", "catch-all")),
	)
	noCatchAll := snap(host("foo.com", prefix("/", "foo")))
	defaulted := withDefault(snap(host("foo.com", exact("/x", "x")), host("", exact("/y", "y"))), "default")
	long := strings.Repeat("a", 250) + ".foo.com"

	tests := []struct {
		name, rule string
		s          *snapshot.Snapshot
		host, path string
		want       string // upstream; "" means no match (404)
	}{
		{"exact host", "host", hosts, "foo.com", "/", "foo"},
		{"request host case is ignored", "host", hosts, "FoO.CoM", "/", "foo"},
		{"rule host case is ignored", "host", hosts, "upper.EXAMPLE.com", "/", "upper"},
		{"port is ignored", "host", hosts, "foo.com:8080", "/", "foo"},
		{"empty port is ignored", "host", hosts, "foo.com:", "/", "foo"},
		{"trailing dot is ignored", "host", hosts, "foo.com.:80", "/", "foo"},
		{"IPv4 host with port", "host", hosts, "127.0.0.1:8080", "/", "ipv4"},
		{"IPv6 host with port uses catch-all", "host", hosts, "[::1]:8080", "/any", "catch-all"},
		{"IPv6 host without port uses catch-all", "host", hosts, "[::1]", "/any", "catch-all"},
		{"exact host wins over wildcard", "host", hosts, "bar.foo.com", "/only", "bar-only"},
		{"wildcard matches one label", "host", hosts, "baz.foo.com", "/", "wild"},
		{"wildcard ignores case and port", "host", hosts, "BAZ.Foo.Com:443", "/", "wild"},
		{"wildcard does not match two labels", "host", hosts, "baz.bar.foo.com", "/any", "catch-all"},
		{"wildcard does not match the bare domain", "host", snap(host("*.foo.com", prefix("/", "wild")), host("", prefix("/", "catch-all"))), "foo.com", "/", "catch-all"},
		{"wildcard does not match an empty label", "host", hosts, ".foo.com", "/any", "catch-all"},
		{"unknown host uses catch-all", "host", hosts, "other.org", "/any/x", "catch-all"},
		{"empty host uses catch-all", "host", hosts, "", "/any", "catch-all"},
		{"overlong host uses catch-all", "host", hosts, long, "/any", "catch-all"},
		{"exact host does not fall back to catch-all", "host", hosts, "bar.foo.com", "/any", ""},
		{"wildcard host does not fall back to catch-all", "host", hosts, "a.strict.com", "/any", ""},
		{"catch-all without a matching path", "host", hosts, "other.org", "/none", ""},
		{"unknown host without catch-all", "host", noCatchAll, "other.org", "/", ""},

		{"exact matches the whole path", "path", paths, "foo.com", "/ddd", "ddd"},
		{"exact does not match a child", "path", paths, "foo.com", "/ddd/e", "root"},
		{"exact is case-sensitive", "path", paths, "foo.com", "/DDD", "root"},
		{"exact: slash in the request is significant", "path", paths, "foo.com", "/ddd/", "root"},
		{"exact: slash in the rule is significant", "path", paths, "foo.com", "/ccc", "root"},
		{"exact with trailing slash", "path", paths, "foo.com", "/ccc/", "ccc-slash"},
		{"exact beats prefix on equal path", "path", paths, "foo.com", "/aaa", "aaa-exact"},
		{"prefix matches with a trailing slash", "path", paths, "foo.com", "/aaa/", "aaa"},
		{"prefix matches a child element", "path", paths, "foo.com", "/aaa/ccc", "aaa"},
		{"prefix does not match part of an element", "path", paths, "foo.com", "/aaaccc", "root"},
		{"prefix is case-sensitive", "path", paths, "foo.com", "/case", "root"},
		{"prefix rule's trailing slash is ignored", "path", paths, "foo.com", "/bbb", "bbb"},
		{"prefix rule's trailing slash, child", "path", paths, "foo.com", "/bbb/x", "bbb"},
		{"longest prefix wins", "path", paths, "foo.com", "/aaa/bbb/c", "aaa-bbb"},
		{"longest prefix, exact path of it", "path", paths, "foo.com", "/aaa/bbb", "aaa-bbb"},
		{"/ matches everything", "path", paths, "foo.com", "/zzz/y", "root"},
		{"/ matches /", "path", paths, "foo.com", "/", "root"},
		{"same prefix twice: first listed wins", "path", paths, "foo.com", "/dup/z", "dup-first"},
		{"same exact path twice: first listed wins", "path", paths, "foo.com", "/x", "x-first"},
		{"a path without a leading slash matches no prefix", "path", paths, "foo.com", "*", ""},

		{"a named host's unrouted path is a 404, not the default backend", "default", defaulted, "foo.com", "/nope", ""},
		{"a wildcard host's unrouted path is a 404 too", "default", withDefault(snap(host("*.foo.com", exact("/x", "x"))), "default"), "a.foo.com", "/nope", ""},
		{"default backend for a host no virtual host names", "default", withDefault(snap(host("foo.com", exact("/x", "x"))), "default"), "bar.com", "/x", "default"},
		{"default backend when the catch-all has no path", "default", defaulted, "other.org", "/nope", "default"},
		{"route before default backend", "default", defaulted, "foo.com", "/x", "x"},
		{"catch-all route before default backend", "default", defaulted, "other.org", "/y", "y"},
		{"default backend of an empty table", "default", withDefault(snap(), "default"), "foo.com", "/", "default"},
		{"empty table is a 404", "default", snap(), "foo.com", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.name, func(t *testing.T) {
			for _, limit := range []int{maxScannedPrefixes, 0} { // scanned, then indexed prefixes
				table, err := compile(tt.s, limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := matchName(t, table, tt.s, tt.host, tt.path); got != tt.want {
					t.Errorf("scan limit %d: Match(%q, %q) = %q, want %q", limit, tt.host, tt.path, got, tt.want)
				}
			}
		})
	}
}

func TestDefaultBackendIsTheSnapshotRoute(t *testing.T) {
	s := withDefault(snap(), "default")
	table, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := table.Match("any", "/")
	if !ok || m.Route != s.DefaultBackend || m.Upstream != 0 {
		t.Fatalf("got %+v, %v; want the snapshot's DefaultBackend and upstream 0", m, ok)
	}
}

func TestCompileErrors(t *testing.T) {
	good := prefix("/", "u")
	unknownDefault := snap(host("a", good))
	unknownDefault.DefaultBackend = &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: "gone", Source: "ns/def"}
	dupUpstream := snap(host("a", good))
	dupUpstream.Upstreams = append(dupUpstream.Upstreams, snapshot.Upstream{Name: "u"})
	tests := []struct {
		name string
		s    *snapshot.Snapshot
		want string // part of the error message
	}{
		{"unknown upstream", &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{host("a", prefix("/", "missing"))}}, `unknown upstream "missing"`},
		{"unknown default backend upstream", unknownDefault, `default backend (from ns/def): unknown upstream "gone"`},
		{"duplicate upstream", dupUpstream, `duplicate upstream "u"`},
		{"empty path", snap(host("a", prefix("", "u"))), `path "" (from ns/u): the path must start with '/'`},
		{"relative path", snap(host("a", exact("x", "u"))), `path "x" (from ns/u): the path must start with '/'`},
		{"unknown path type", snap(host("a", snapshot.Route{PathType: 9, Path: "/", Upstream: "u"})), "unknown path type 9"},
		{"duplicate host", snap(host("a.com", good), host("A.com", good)), `duplicate host "A.com"`},
		{"duplicate wildcard", snap(host("*.a.com", good), host("*.A.com", good)), `duplicate host "*.A.com"`},
		{"duplicate catch-all", snap(host("", good), host("", good)), "duplicate catch-all host"},
		{"wildcard inside a label", snap(host("a*.b.com", good)), "a wildcard must be the whole first label"},
		{"wildcard in a later label", snap(host("a.*.com", good)), "a wildcard must be the whole first label"},
		{"two wildcards", snap(host("*.*.com", good)), "a wildcard must be the whole first label"},
		{"bare wildcard", snap(host("*", good)), "a wildcard must be the whole first label"},
		{"wildcard without a domain", snap(host("*.", good)), "every label must have 1 to 63 characters"},
		{"empty label", snap(host("a..com", good)), "every label must have 1 to 63 characters"},
		{"trailing dot", snap(host("a.com.", good)), "every label must have 1 to 63 characters"},
		{"label too long", snap(host(strings.Repeat("x", 64)+".com", good)), "every label must have 1 to 63 characters"},
		{"name too long", snap(host(strings.Repeat("abc.", 64)+"com", good)), "longer than 253 characters"},
		{"port in a host name", snap(host("a.com:80", good)), `character ':' is not allowed`},
		{"space in a host name", snap(host("a com", good)), `character ' ' is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	s := benchSnapshot(20, 10)
	tests := []struct{ name, host, path string }{
		{"exact host", "svc-3.example.com", "/api/v3/items/42"},
		{"wildcard host", "Tenant-7.Apps.Example.com:443", "/static/app.js"},
		{"catch-all host", "unknown.org", "/healthz"},
		{"indexed prefixes", "big.example.com", "/route-150/deeper/path"},
		{"default backend", "unknown.example.org", "/nothing-here"},
	}
	table, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if _, ok := table.Match(tt.host, tt.path); !ok {
			t.Fatalf("%s: Match(%q, %q) found no route; the case measures nothing", tt.name, tt.host, tt.path)
		}
		if allocs := testing.AllocsPerRun(1000, func() { table.Match(tt.host, tt.path) }); allocs != 0 {
			t.Errorf("%s: Match allocates %v times per call", tt.name, allocs)
		}
	}
}
