package router

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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
	return refMatchRequest(s, &refRequest{host: host, path: path})
}

// refRequest is a request as the reference matcher sees it.
type refRequest struct {
	host, path, method, rawQuery string
	header                       http.Header
}

func refMatchRequest(s *snapshot.Snapshot, req *refRequest) *snapshot.Route {
	vh, named := refSelectHost(s, req.host)
	if vh != nil {
		var best *snapshot.Route
		var bestRank []int
		for i := range vh.Routes {
			r := &vh.Routes[i]
			if rank := refRank(r, i); refRouteMatches(r, req) && (best == nil || slices.Compare(rank, bestRank) > 0) {
				best, bestRank = r, rank
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

// refRank is snapshot.Route's precedence as a tuple, larger first: path
// kind, path length (a Prefix without its trailing slashes), a method,
// header and query counts, then the lower Order and the earlier listing.
func refRank(r *snapshot.Route, listed int) []int {
	kind, length := 0, len(strings.TrimRight(r.Path, "/"))
	switch r.PathType {
	case snapshot.PathExact:
		kind, length = 2, len(r.Path)
	case snapshot.PathRegularExpression:
		kind, length = 1, len(r.Path)
	}
	method := 0
	if r.Method != "" {
		method = 1
	}
	return []int{kind, length, method, len(r.Headers), len(r.QueryParams), -r.Order, -listed}
}

func refRouteMatches(r *snapshot.Route, req *refRequest) bool {
	var pathOK bool
	switch r.PathType {
	case snapshot.PathExact:
		pathOK = r.Path == req.path
	case snapshot.PathRegularExpression:
		pathOK = regexp.MustCompile("^(?:" + r.Path + ")$").MatchString(req.path)
	default:
		pathOK = refPrefixCovers(r.Path, req.path)
	}
	if !pathOK || r.Method != "" && r.Method != req.method {
		return false
	}
	for _, h := range r.Headers {
		sep := ","
		if strings.EqualFold(h.Name, "cookie") {
			sep = "; "
		}
		vs := req.header.Values(h.Name)
		if len(vs) == 0 || !refValueMatches(h.Value, h.Regex, strings.Join(vs, sep)) {
			return false
		}
	}
	for _, q := range r.QueryParams {
		v, ok := refQueryFirst(req.rawQuery, q.Name)
		if !ok || !refValueMatches(q.Value, q.Regex, v) {
			return false
		}
	}
	return true
}

func refValueMatches(want string, isRegex bool, got string) bool {
	if isRegex {
		return regexp.MustCompile("^(?:" + want + ")$").MatchString(got)
	}
	return want == got
}

// refQueryFirst is the first decodable value of name in a raw query.
func refQueryFirst(raw, name string) (string, bool) {
	for _, pair := range strings.Split(raw, "&") {
		kv := strings.SplitN(pair, "=", 2)
		k, err := url.QueryUnescape(kv[0])
		if err != nil || k != name {
			continue
		}
		v := ""
		if len(kv) == 2 {
			if v, err = url.QueryUnescape(kv[1]); err != nil {
				continue
			}
		}
		return v, true
	}
	return "", false
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

// requestFuzzSnapshot mixes plain Ingress routes with every other matcher,
// on paths that overlap, so that precedence decides most requests.
func requestFuzzSnapshot() *snapshot.Snapshot {
	h := func(name, value string, re bool) routeOpt { return withHeader(name, value, re) }
	q := func(name, value string, re bool) routeOpt { return withQuery(name, value, re) }
	routes := []snapshot.Route{
		prefix("/", "root"), prefix("/a", "a"), exact("/a", "a-exact"), prefix("/a/", "a-slash"),
		gwRoute(exa, "/a", "a-get", withMethod("GET")),
		gwRoute(pfx, "/a", "a-tag", h("X-Tag", "t", false), withOrder(-1)),
		gwRoute(pfx, "/a", "a-tag-re", h("x-tag", "t.*", true), q("q", "1", false)),
		gwRoute(pfx, "/a/b", "a-b-query", q("q", "[0-9]", true), q("r", "", false)),
		gwRoute(pfx, "/a/b", "a-b-post", withMethod("POST"), withOrder(3)),
		gwRoute(pfx, "/a/b", "a-b-post-tag", withMethod("POST"), h("X-Tag", "t,u", false), withOrder(4)),
		gwRoute(regex, "/a/[a-c]+", "re-short", withOrder(2)),
		gwRoute(regex, "/a/b[0-9]*", "re-long", withOrder(1)),
		gwRoute(regex, "/a/b.*", "re-long-get", withMethod("GET"), withOrder(5)),
		gwRoute(regex, "/b|/c", "re-alt"),
		gwRoute(exa, "/b", "b-exact-query", q("q", "1", false)),
		gwRoute(pfx, "/b", "b-cookie", h("Cookie", "c=1; d=2", false)),
	}
	return withDefault(snap(host("*.b", routes...), host("", routes[4:]...)), "default")
}

// FuzzMatchRequest holds MatchRequest to the reference for requests with
// a method, X-Tag and Cookie headers (values split at '\n' into repeated
// headers) and a query.
func FuzzMatchRequest(f *testing.F) {
	s := requestFuzzSnapshot()
	var tables []*Table
	for _, limit := range []int{maxScannedPrefixes, 0} {
		table, err := compile(s, limit)
		if err != nil {
			f.Fatal(err)
		}
		tables = append(tables, table)
	}
	f.Add("x.b", "/a/b7", "GET", "t\nu", "c=1\nd=2", "q=7&r=")
	f.Add("x.b", "/a/b", "POST", "t\nu", "", "q=%31")
	f.Add("", "/b", "PUT", "", "c=1\nd=2", "q=1&q=2")
	f.Fuzz(func(t *testing.T, host, path, method, tags, cookies, rawQuery string) {
		header := http.Header{}
		for name, values := range map[string]string{"X-Tag": tags, "Cookie": cookies} {
			if values != "" {
				header[name] = strings.Split(values, "\n")
			}
		}
		req := &refRequest{host: host, path: path, method: method, rawQuery: rawQuery, header: header}
		want := refMatchRequest(s, req)
		r := &request{host: host, path: path, method: method, rawQuery: rawQuery, fields: fieldsOf(header)}
		for _, table := range tables {
			m, ok := table.match(r)
			if ok != (want != nil) || ok && m.Route != want {
				t.Fatalf("match(%+v) = %+v, %v; reference says %+v", req, m.Route, ok, want)
			}
		}
	})
}
