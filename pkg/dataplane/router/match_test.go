package router

import (
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

const (
	pfx   = snapshot.PathPrefix
	exa   = snapshot.PathExact
	regex = snapshot.PathRegularExpression
)

// matchCase is one request and the upstream it must reach ("" for 404).
type matchCase struct {
	name           string
	method, target string
	header         []string
	want           string
}

// runMatchCases checks every case against s through both prefix matchers
// (scanned and indexed).
func runMatchCases(t *testing.T, s *snapshot.Snapshot, cases []matchCase) {
	t.Helper()
	for _, limit := range []int{maxScannedPrefixes, 0} {
		table, err := compile(s, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			m, ok := matchOf(table, newRequest(method, "a.test", tc.target, "", tc.header...))
			if got := upstreamOf(s, m, ok); got != tc.want {
				t.Errorf("scan limit %d: %s: %s %s %v went to %q, want %q", limit, tc.name, method, tc.target, tc.header, got, tc.want)
			}
		}
	}
}

func TestMatchMethod(t *testing.T) {
	s := snap(host("a.test", gwRoute(pfx, "/", "post", withMethod("POST")), gwRoute(pfx, "/", "get", withMethod("GET"))))
	runMatchCases(t, s, []matchCase{
		{name: "POST", method: "POST", target: "/", want: "post"},
		{name: "GET", method: "GET", target: "/x", want: "get"},
		{name: "HEAD is not GET", method: "HEAD", target: "/", want: ""},
		{name: "methods are case-sensitive", method: "get", target: "/", want: ""},
	})
}

func TestMatchHeaders(t *testing.T) {
	s := snap(host("a.test",
		gwRoute(exa, "/exact", "tag-ab", withHeader("x-TAG", "a,b", false)),
		gwRoute(exa, "/exact", "tag-a", withHeader("X-Tag", "a", false)),
		gwRoute(exa, "/empty", "empty", withHeader("X-Tag", "", false)),
		gwRoute(exa, "/regex", "digits", withHeader("X-Tag", "[0-9]+", true)),
		gwRoute(exa, "/regex", "joined", withHeader("X-Tag", "a,.*", true)),
		gwRoute(exa, "/cookie", "cookie", withHeader("Cookie", "a=1; b=2", false)),
		gwRoute(exa, "/dup", "first-name-counts", withHeader("X-Tag", "one", false), withHeader("x-tag", "two", false)),
	))
	runMatchCases(t, s, []matchCase{
		{name: "names compare without case", target: "/exact", header: []string{"x-tag", "a"}, want: "tag-a"},
		{name: "value is case-sensitive", target: "/exact", header: []string{"X-Tag", "A"}, want: ""},
		{name: "absent header", target: "/exact", want: ""},
		{name: "repeated header joins with commas", target: "/exact", header: []string{"X-Tag", "a", "X-Tag", "b"}, want: "tag-ab"},
		{name: "repeated header is not its first value", target: "/exact", header: []string{"X-Tag", "a", "X-Tag", "c"}, want: ""},
		{name: "an empty value matches a present empty header", target: "/empty", header: []string{"X-Tag", ""}, want: "empty"},
		{name: "an empty value needs the header", target: "/empty", want: ""},
		{name: "regex matches the whole value", target: "/regex", header: []string{"X-Tag", "123"}, want: "digits"},
		{name: "regex is anchored at the start", target: "/regex", header: []string{"X-Tag", "x123"}, want: ""},
		{name: "regex is anchored at the end", target: "/regex", header: []string{"X-Tag", "123x"}, want: ""},
		{name: "regex on a repeated header", target: "/regex", header: []string{"X-Tag", "a", "X-Tag", "z"}, want: "joined"},
		{name: "cookies join with semicolons", target: "/cookie", header: []string{"Cookie", "a=1", "Cookie", "b=2"}, want: "cookie"},
		{name: "a repeated match name: only the first counts", target: "/dup", header: []string{"X-Tag", "one"}, want: "first-name-counts"},
		{name: "a repeated match name: the second is ignored", target: "/dup", header: []string{"X-Tag", "two"}, want: ""},
	})
}

func TestMatchQueryParams(t *testing.T) {
	s := snap(host("a.test",
		gwRoute(exa, "/q", "whale", withQuery("animal", "whale", false)),
		gwRoute(exa, "/q", "spaced", withQuery("an imal", "blue whale", false)),
		gwRoute(exa, "/re", "digits", withQuery("n", "[0-9]+", true)),
		gwRoute(exa, "/empty", "empty", withQuery("flag", "", false)),
	))
	runMatchCases(t, s, []matchCase{
		{name: "exact value", target: "/q?animal=whale", want: "whale"},
		{name: "among other parameters", target: "/q?x=1&animal=whale&y", want: "whale"},
		{name: "names are case-sensitive", target: "/q?ANIMAL=whale", want: ""},
		{name: "values are case-sensitive", target: "/q?animal=Whale", want: ""},
		{name: "no substring match", target: "/q?animal=whaledolphin", want: ""},
		{name: "repeated: the first value counts", target: "/q?animal=whale&animal=dolphin", want: "whale"},
		{name: "repeated: a later value does not", target: "/q?animal=dolphin&animal=whale", want: ""},
		{name: "names and values compare decoded", target: "/q?an+imal=blue%20whale", want: "spaced"},
		{name: "a pair that does not decode is skipped", target: "/q?animal=%zz&animal=whale", want: "whale"},
		{name: "regex matches the whole value", target: "/re?n=42", want: "digits"},
		{name: "regex is anchored", target: "/re?n=42a", want: ""},
		{name: "empty value with '='", target: "/empty?flag=", want: "empty"},
		{name: "empty value without '='", target: "/empty?flag", want: "empty"},
		{name: "absent parameter", target: "/empty?other=1", want: ""},
	})
}

func TestMatchRegexPath(t *testing.T) {
	s := snap(host("a.test",
		gwRoute(regex, "/items/[0-9]+", "item"),
		gwRoute(regex, "/(?i)caseless", "caseless"),
		gwRoute(pfx, "/", "root"),
	))
	runMatchCases(t, s, []matchCase{
		{name: "whole path", target: "/items/42", want: "item"},
		{name: "anchored at the end", target: "/items/42/x", want: "root"},
		{name: "anchored at the start", target: "/x/items/42", want: "root"},
		{name: "the query is not part of the path", target: "/items/42?a=b", want: "item"},
		{name: "flags stay inside the expression", target: "/CASELESS", want: "caseless"},
	})
}

// TestPrecedence holds each rule of snapshot.Route's order: every case has
// two routes that both match, listed with the loser first.
func TestPrecedence(t *testing.T) {
	hdr := func(n int) []routeOpt {
		var opts []routeOpt
		for i := range n {
			opts = append(opts, withHeader("H"+string(rune('a'+i)), "1", false))
		}
		return opts
	}
	qry := func(n int) []routeOpt {
		var opts []routeOpt
		for i := range n {
			opts = append(opts, withQuery("q"+string(rune('a'+i)), "1", false))
		}
		return opts
	}
	tests := []struct {
		rule          string
		loser, winner snapshot.Route
	}{
		{"exact beats regex", gwRoute(regex, "/a/.*", "loser"), gwRoute(exa, "/a/b", "winner")},
		{"exact beats a method and headers", gwRoute(pfx, "/a/b", "loser", append(hdr(3), withMethod("GET"))...), gwRoute(exa, "/a/b", "winner")},
		{"regex beats prefix", gwRoute(pfx, "/a/b", "loser"), gwRoute(regex, "/a.*", "winner")},
		{"the longer regex wins", gwRoute(regex, "/a.*", "loser"), gwRoute(regex, "/a/b.*", "winner")},
		{"the longer prefix wins", gwRoute(pfx, "/a", "loser", withMethod("GET")), gwRoute(pfx, "/a/b", "winner")},
		{"a method beats headers", gwRoute(pfx, "/a", "loser", hdr(3)...), gwRoute(pfx, "/a", "winner", withMethod("GET"))},
		{"more headers win", gwRoute(pfx, "/a", "loser", append(hdr(1), qry(3)...)...), gwRoute(pfx, "/a", "winner", hdr(2)...)},
		{"more query parameters win", gwRoute(pfx, "/a", "loser", qry(1)...), gwRoute(pfx, "/a", "winner", qry(2)...)},
		{"the lower order wins", gwRoute(pfx, "/a", "loser", withOrder(2)), gwRoute(pfx, "/a", "winner", withOrder(1))},
		{"regex: a method wins at equal length", gwRoute(regex, "/a.*", "loser", withOrder(0)), gwRoute(regex, "/.*b", "winner", withMethod("GET"), withOrder(1))},
	}
	for _, tt := range tests {
		s := snap(host("a.test", tt.loser, tt.winner))
		runMatchCases(t, s, []matchCase{{name: tt.rule, target: "/a/b?qa=1&qb=1&qc=1", header: []string{"Ha", "1", "Hb", "1", "Hc", "1"}, want: "winner"}})
	}
	tie := snap(host("a.test", gwRoute(pfx, "/a", "first"), gwRoute(pfx, "/a/", "second")))
	runMatchCases(t, tie, []matchCase{{name: "equal in every rule: the first listed wins", target: "/a/b", want: "first"}})
}

func TestFallsThroughToLessSpecificPaths(t *testing.T) {
	s := snap(host("a.test",
		gwRoute(exa, "/a/b", "exact-post", withMethod("POST")),
		gwRoute(regex, "/a/.*", "regex-put", withMethod("PUT")),
		gwRoute(pfx, "/a/b", "prefix-delete", withMethod("DELETE")),
		gwRoute(pfx, "/a", "prefix-a"),
	))
	runMatchCases(t, s, []matchCase{
		{name: "exact", method: "POST", target: "/a/b", want: "exact-post"},
		{name: "exact refuses, regex takes it", method: "PUT", target: "/a/b", want: "regex-put"},
		{name: "exact and regex refuse, the longer prefix takes it", method: "DELETE", target: "/a/b", want: "prefix-delete"},
		{name: "all but the shortest prefix refuse", method: "GET", target: "/a/b", want: "prefix-a"},
	})
}
