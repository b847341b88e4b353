package router

import (
	"net"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// The reference matcher below states the rules as plainly as possible —
// every host and route is compared with the request, nothing is
// precomputed — so that FuzzMatch can hold the compiled table to it.

// refHost is the request host as compared with virtual host names, and
// false when it is too long to be a DNS name.
func refHost(h string) (string, bool) {
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	} else if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	h = strings.TrimSuffix(h, ".")
	if len(h) > 253 {
		return "", false
	}
	lower := []byte(h)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	return string(lower), true
}

// refWildcardCovers reports whether pattern "*.suffix" covers h: h is one
// non-empty label without dots, a dot, and suffix.
func refWildcardCovers(pattern, h string) bool {
	suffix, ok := strings.CutPrefix(pattern, "*")
	label, found := strings.CutSuffix(h, suffix)
	return ok && found && label != "" && !strings.Contains(label, ".")
}

// refSelectHost returns the virtual host serving reqHost and whether it is
// a named one (not the catch-all).
func refSelectHost(s *snapshot.Snapshot, reqHost string) (*snapshot.VirtualHost, bool) {
	h, ok := refHost(reqHost)
	for _, wildcard := range []bool{false, true} {
		for i := range s.Hosts {
			name := strings.ToLower(s.Hosts[i].Name)
			if !ok || name == "" || strings.HasPrefix(name, "*.") != wildcard {
				continue
			}
			if name == h || wildcard && refWildcardCovers(name, h) {
				return &s.Hosts[i], true
			}
		}
	}
	for i := range s.Hosts {
		if s.Hosts[i].Name == "" {
			return &s.Hosts[i], false
		}
	}
	return nil, false
}

// refPrefixCovers compares rule and path element by element, after
// dropping the rule's trailing slashes.
func refPrefixCovers(rule, path string) bool {
	ruleElems := strings.Split(strings.TrimRight(rule, "/"), "/")
	pathElems := strings.Split(path, "/")
	if len(ruleElems) > len(pathElems) {
		return false
	}
	for i := range ruleElems {
		if ruleElems[i] != pathElems[i] {
			return false
		}
	}
	return true
}

// refMatch returns the route serving host and path, or nil for a 404. The
// default backend is only for hosts no virtual host names.
func refMatch(s *snapshot.Snapshot, host, path string) *snapshot.Route {
	vh, named := refSelectHost(s, host)
	if vh != nil {
		var best *snapshot.Route
		bestLen, bestExact := -1, false
		for i := range vh.Routes {
			r := &vh.Routes[i]
			length, isExact := len(strings.TrimRight(r.Path, "/")), r.PathType == snapshot.PathExact
			if isExact {
				length = len(r.Path)
			}
			matches := isExact && r.Path == path || !isExact && refPrefixCovers(r.Path, path)
			if matches && (length > bestLen || length == bestLen && isExact && !bestExact) {
				best, bestLen, bestExact = r, length, isExact
			}
		}
		if best != nil {
			return best
		}
	}
	if named {
		return nil
	}
	return s.DefaultBackend
}

// fuzzSnapshots are tables with short names and paths the fuzzer can hit:
// overlapping exact and wildcard hosts, nested and duplicated paths, with
// and without a catch-all host and a default backend.
func fuzzSnapshots() []*snapshot.Snapshot {
	routes := []snapshot.Route{
		prefix("/", "root"), prefix("/a", "a"), exact("/a", "a-exact"), prefix("/a/", "a-slash"),
		exact("/a/", "a-exact-slash"), prefix("/a/b", "a-b"), prefix("/ab", "ab"), exact("/A", "A-exact"),
		prefix("/b/", "b"), prefix("/b/c/", "b-c"), exact("/b/c", "b-c-exact"), exact("/a", "a-exact-second"),
	}
	full := withDefault(snap(
		host("", prefix("/c", "any-c"), exact("/", "any-root")),
		host("*.b", routes...),
		host("*.a.b", prefix("/", "wild-a-b")),
		host("A.B", routes[3:]...),
		host("x.a.b", exact("/x", "x-a-b")),
		host("1.2.3.4", prefix("/a", "ip")),
	), "default")
	bare := snap(
		host("a.b", routes...),
		host("*.a.b", routes[5:]...),
		host("*.c", exact("/", "c-root")),
	)
	return []*snapshot.Snapshot{full, bare}
}

func FuzzMatch(f *testing.F) {
	type compiled struct {
		s      *snapshot.Snapshot
		tables []*Table
	}
	var all []compiled
	for _, s := range fuzzSnapshots() {
		c := compiled{s: s}
		for _, limit := range []int{maxScannedPrefixes, 0} { // scanned, then indexed prefixes
			table, err := compile(s, limit)
			if err != nil {
				f.Fatal(err)
			}
			c.tables = append(c.tables, table)
		}
		all = append(all, c)
	}
	f.Fuzz(func(t *testing.T, host, path string) {
		for si, c := range all {
			want := refMatch(c.s, host, path)
			for _, table := range c.tables {
				m, ok := table.Match(host, path)
				if ok != (want != nil) || ok && (m.Route != want || c.s.Upstreams[m.Upstream].Name != want.Upstream) {
					t.Fatalf("snapshot %d: Match(%q, %q) = %+v, %v; reference says %+v", si, host, path, m.Route, ok, want)
				}
			}
		}
	})
}
