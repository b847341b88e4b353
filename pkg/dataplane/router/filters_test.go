package router

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// The rows are Gateway API's HTTPRouteRedirect* conformance cases
// (port-and-scheme, path, port, scheme, host-and-status): the port in
// Location follows the scheme when only the scheme is set, the client's
// port otherwise, and well-known ports are left out.
func TestRedirectLocation(t *testing.T) {
	full := &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: "/full-path-replacement"}
	pfx := &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/replacement-prefix"}
	tests := []struct {
		name   string
		https  bool
		host   string // the request's Host header
		target string
		route  string // the route's Prefix
		rd     snapshot.Redirect
		want   string
	}{
		{"listener 80, nothing set", false, "gw", "/a", "/a", snapshot.Redirect{Hostname: "example.org"}, "http://example.org/a"},
		{"listener 80, port 80", false, "gw:80", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Port: 80}, "http://example.org/a"},
		{"listener 80, port 8080", false, "gw", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Port: 8080}, "http://example.org:8080/a"},
		{"listener 80, https", false, "gw", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "https"}, "https://example.org/a"},
		{"listener 80, https 443", false, "gw", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "https", Port: 443}, "https://example.org/a"},
		{"listener 80, https 8443", false, "gw", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "https", Port: 8443}, "https://example.org:8443/a"},
		{"listener 8080, nothing set", false, "gw:8080", "/a", "/a", snapshot.Redirect{Hostname: "example.org"}, "http://example.org:8080/a"},
		{"listener 8080, port 80", false, "gw:8080", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Port: 80}, "http://example.org/a"},
		{"listener 8080, https", false, "gw:8080", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "https"}, "https://example.org/a"},
		{"listener 443, nothing set", true, "example.org", "/a", "/a", snapshot.Redirect{Hostname: "example.org"}, "https://example.org/a"},
		{"listener 443, port 443", true, "example.org", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Port: 443}, "https://example.org/a"},
		{"listener 443, port 8443", true, "example.org", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Port: 8443}, "https://example.org:8443/a"},
		{"listener 443, http", true, "example.org", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "http"}, "http://example.org/a"},
		{"listener 443, http 80", true, "example.org", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "http", Port: 80}, "http://example.org/a"},
		{"listener 443, http 8080", true, "example.org", "/a", "/a", snapshot.Redirect{Hostname: "example.org", Scheme: "http", Port: 8080}, "http://example.org:8080/a"},
		{"https from a port", false, "shop.test:8080", "/a", "/a", snapshot.Redirect{Scheme: "https"}, "https://shop.test/a"},
		{"port only keeps the host", false, "shop.test", "/port", "/port", snapshot.Redirect{Port: 8083}, "http://shop.test:8083/port"},
		{"query kept", false, "shop.test", "/a?x=1&y=%20", "/a", snapshot.Redirect{Scheme: "https"}, "https://shop.test/a?x=1&y=%20"},
		{"IPv6 host", false, "[::1]:8080", "/a", "/a", snapshot.Redirect{}, "http://[::1]:8080/a"},
		{"prefix replaced", false, "gw", "/original-prefix/lemon", "/original-prefix", snapshot.Redirect{Path: pfx}, "http://gw/replacement-prefix/lemon"},
		{"full path replaced", false, "gw", "/full/path/original", "/full", snapshot.Redirect{Path: full}, "http://gw/full-path-replacement"},
		{"path and host", false, "gw", "/path-and-host", "/path-and-host", snapshot.Redirect{Hostname: "example.org", Path: pfx}, "http://example.org/replacement-prefix"},
		{"path escaped", false, "gw", "/original-prefix/a%20b", "/original-prefix", snapshot.Redirect{Path: pfx}, "http://gw/replacement-prefix/a%20b"},
	}
	for _, tt := range tests {
		u, err := url.ParseRequestURI(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{Method: http.MethodGet, Host: tt.host, URL: u}
		if tt.https {
			req.TLS = &tls.ConnectionState{}
		}
		rt := &snapshot.Route{PathType: snapshot.PathPrefix, Path: tt.route}
		if got := redirectLocation(req, rt, &tt.rd); got != tt.want {
			t.Errorf("%s: Location %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Gateway API's HTTPPathModifier table for ReplacePrefixMatch, plus the
// conformance suite's rewrite-path cases.
func TestModifyPath(t *testing.T) {
	tests := []struct{ path, prefix, replace, want string }{
		{"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
		{"/foo", "/foo", "/xyz", "/xyz"},
		{"/foo/", "/foo", "/xyz", "/xyz/"},
		{"/foo/bar", "/foo", "", "/bar"},
		{"/foo/", "/foo", "", "/"},
		{"/foo", "/foo", "", "/"},
		{"/foo/", "/foo", "/", "/"},
		{"/foo", "/foo", "/", "/"},
		{"/prefix/one/two", "/prefix/one", "/one", "/one/two"},
		{"/strip-prefix/three", "/strip-prefix", "/", "/three"},
		{"/strip-prefix", "/strip-prefix", "/", "/"},
		{"/any/path", "/", "/xyz", "/xyz/any/path"},
	}
	for _, tt := range tests {
		rt := &snapshot.Route{PathType: snapshot.PathPrefix, Path: tt.prefix}
		pm := &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: tt.replace}
		if got := modifyPath(tt.path, rt, pm); got != tt.want {
			t.Errorf("%s with prefix %s replaced by %q: %q, want %q", tt.path, tt.prefix, tt.replace, got, tt.want)
		}
	}
	full := &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: "/one"}
	if got := modifyPath("/full/one/two", &snapshot.Route{Path: "/full/one"}, full); got != "/one" {
		t.Errorf("ReplaceFullPath: %q, want /one", got)
	}
}

// echoed is what echoHandler reports about the request it got.
type echoed struct {
	Host   string
	Path   string
	Header http.Header
}

// echoHandler answers with the request's host, path and header, and
// sends X-From-Backend headers for response edits to work on.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Header-Set", "backend")
	w.Header().Set("X-Header-Add", "backend")
	w.Header().Set("X-Header-Remove", "backend")
	w.Header().Add("Set-Cookie", "a=1")
	json.NewEncoder(w).Encode(echoed{Host: r.Host, Path: r.URL.EscapedPath(), Header: r.Header})
}

func filtered(path string, f snapshot.RouteFilters) snapshot.Route {
	r := prefix(path, "main")
	r.Filters = &f
	return r
}

// redirectOnly is a Gateway API rule with a RequestRedirect filter and no
// backendRefs: it needs no upstream.
func redirectOnly(path string, rd snapshot.Redirect) snapshot.Route {
	r := filtered(path, snapshot.RouteFilters{Redirect: &rd})
	r.Upstream = ""
	return r
}

// A redirect answers without asking the backend, with the status asked
// (302 by default) and no body.
func TestRedirectThroughProxy(t *testing.T) {
	var calls atomic.Int64
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	rig := newProxyRig(t)
	rig.serve(t, "shop.test", []snapshot.Route{
		filtered("/moved", snapshot.RouteFilters{Redirect: &snapshot.Redirect{Scheme: "https", StatusCode: 301}}),
		filtered("/found", snapshot.RouteFilters{Redirect: &snapshot.Redirect{Hostname: "example.org"}}),
		redirectOnly("/nobackend", snapshot.Redirect{Scheme: "https"}),
	}, map[string]string{"main": addr})
	for _, tt := range []struct {
		target, location string
		status           int
	}{
		{"/moved/a?q=1", "https://shop.test/moved/a?q=1", 301},
		{"/found", "http://example.org:8080/found", 302},
		{"/nobackend", "https://shop.test/nobackend", 302},
	} {
		resp, body := rig.do(t, rigRequest(t, "GET", "shop.test:8080", tt.target, nil))
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location || body != "" {
			t.Errorf("%s: %d Location %q body %q, want %d %q and no body", tt.target, resp.StatusCode, resp.Header.Get("Location"), body, tt.status, tt.location)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the backend got %d requests, want none", n)
	}
}

// URL rewrites and request header edits reach the backend; the rows
// follow the conformance suite's rewrite-path, rewrite-host and
// request-header-modifier cases, names compared without case.
func TestRequestFiltersThroughProxy(t *testing.T) {
	edits := snapshot.HeaderEdits{
		Set:    []snapshot.Header{{Name: "X-Header-Set", Value: "set-overwrites-values"}},
		Add:    []snapshot.Header{{Name: "X-Header-Add", Value: "header-val-1"}, {Name: "x-header-add-append", Value: "header-val-2"}},
		Remove: []string{"x-header-remove"},
	}
	rig := newProxyRig(t)
	rig.serve(t, "rewrite.example", []snapshot.Route{
		filtered("/prefix/one", snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/one"}}}),
		filtered("/strip-prefix", snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: "/"}}}),
		filtered("/full/one", snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Path: &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: "/one"}}}),
		filtered("/host", snapshot.RouteFilters{Rewrite: &snapshot.Rewrite{Hostname: "one.example.org"}}),
		filtered("/headers", snapshot.RouteFilters{RequestHeaders: edits, Rewrite: &snapshot.Rewrite{Hostname: "test.example.org"}}),
	}, map[string]string{"main": backend(t, echoHandler)})
	sent := http.Header{"X-Header-Remove": {"remove-val"}, "X-Header-Add-Append": {"append-val-1"}, "X-Header-Set": {"set-val"}}
	tests := []struct {
		target, wantHost, wantPath string
		wantHeader                 map[string]string // "" means absent
	}{
		{"/prefix/one/two", "rewrite.example", "/one/two", nil},
		{"/strip-prefix/three", "rewrite.example", "/three", nil},
		{"/strip-prefix", "rewrite.example", "/", nil},
		{"/full/one/two", "rewrite.example", "/one", nil},
		{"/host/a", "one.example.org", "/host/a", map[string]string{"X-Header-Set": "set-val"}},
		{"/headers", "test.example.org", "/headers", map[string]string{
			"X-Header-Set": "set-overwrites-values", "X-Header-Add": "header-val-1",
			"X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Remove": ""}},
	}
	for _, tt := range tests {
		req := rigRequest(t, "GET", "rewrite.example", tt.target, nil)
		req.Header = sent.Clone()
		resp, body := rig.do(t, req)
		var got echoed
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %q: %v", tt.target, resp.StatusCode, body, err)
		}
		if got.Host != tt.wantHost || got.Path != tt.wantPath {
			t.Errorf("%s: backend saw Host %q path %q, want %q %q", tt.target, got.Host, got.Path, tt.wantHost, tt.wantPath)
		}
		for name, want := range tt.wantHeader {
			if v := strings.Join(got.Header.Values(name), ","); v != want {
				t.Errorf("%s: backend saw %s %q, want %q", tt.target, name, v, want)
			}
		}
	}
}

// Response header edits apply to the backend's response: set replaces,
// add appends to what the backend sent, remove deletes, and Set-Cookie
// gets a line of its own.
func TestResponseHeadersThroughProxy(t *testing.T) {
	rig := newProxyRig(t)
	rig.serve(t, "shop.test", []snapshot.Route{filtered("/", snapshot.RouteFilters{ResponseHeaders: snapshot.HeaderEdits{
		Set:    []snapshot.Header{{Name: "x-header-set", Value: "set-overwrites-values"}, {Name: "X-New", Value: "new"}},
		Add:    []snapshot.Header{{Name: "X-HEADER-ADD", Value: "add-appends-values"}, {Name: "Set-Cookie", Value: "b=2"}, {Name: "x-lowercase-add", Value: "lowercase-add"}},
		Remove: []string{"X-Header-Remove"},
	}})}, map[string]string{"main": backend(t, echoHandler)})
	resp, _ := rig.do(t, rigRequest(t, "GET", "shop.test", "/", nil))
	for name, want := range map[string]string{
		"X-Header-Set": "set-overwrites-values", "X-New": "new", "X-Header-Add": "backend,add-appends-values",
		"X-Lowercase-Add": "lowercase-add", "X-Header-Remove": "", "Set-Cookie": "a=1|b=2",
	} {
		if got := strings.Join(resp.Header.Values(name), "|"); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// An InsecureOnly redirect (Ingress ssl-redirect) answers plain HTTP
// only; a request that came over TLS goes on to the upstream, or it
// would be redirected to itself for ever.
func TestRedirectInsecureOnly(t *testing.T) {
	rt := &snapshot.Route{Filters: &snapshot.RouteFilters{Redirect: &snapshot.Redirect{Scheme: "https", InsecureOnly: true}}}
	plain := &http.Request{Host: "a.test", URL: &url.URL{Path: "/"}}
	secure := &http.Request{Host: "a.test", URL: &url.URL{Path: "/"}, TLS: &tls.ConnectionState{}}
	if redirectOf(rt, plain) == nil {
		t.Error("plain HTTP is not redirected")
	}
	if redirectOf(rt, secure) != nil {
		t.Error("a TLS request is redirected")
	}
	rt.Filters.Redirect.InsecureOnly = false
	if redirectOf(rt, secure) == nil {
		t.Error("without InsecureOnly a TLS request is not redirected")
	}
}

// editHeaders edits a request's map and a response's field list alike
// (Gateway API's HTTPHeaderFilter): Set replaces every value of a name
// in any case, Add joins the last value with a comma except Set-Cookie,
// Remove deletes every line; on the list the lines keep their places
// and the names the route adds are canonical.
func TestEditHeadersRequestAndResponseAlike(t *testing.T) {
	edits := snapshot.HeaderEdits{
		Set:    []snapshot.Header{{Name: "x-set", Value: "s"}, {Name: "x-new", Value: "n"}},
		Add:    []snapshot.Header{{Name: "X-ADD", Value: "2"}, {Name: "set-cookie", Value: "b=2"}, {Name: "x-fresh", Value: "f"}},
		Remove: []string{"X-REMOVE"},
	}
	pairs := []string{"X-Set", "1", "x-add", "1", "X-Remove", "r", "X-Set", "2", "x-remove", "r", "Set-Cookie", "a=1", "X-Kept", "k"}
	req := http.Header{}
	var resp proxy.Header
	for i := 0; i < len(pairs); i += 2 {
		req.Add(pairs[i], pairs[i+1])
		resp.Add(pairs[i], pairs[i+1])
	}
	editHeaders(requestHeader(req), &edits)
	editHeaders(fieldsHeader{&resp}, &edits)
	want := http.Header{"X-Set": {"s"}, "X-Add": {"1,2"}, "Set-Cookie": {"a=1", "b=2"}, "X-Kept": {"k"}, "X-New": {"n"}, "X-Fresh": {"f"}}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("request header %v, want %v", req, want)
	}
	if got := resp.Clone(); !reflect.DeepEqual(got, want) {
		t.Errorf("response header %v, want %v", got, want)
	}
	var lines []string
	for name, value := range resp.All() {
		lines = append(lines, name+": "+value)
	}
	wantLines := []string{"X-Set: s", "x-add: 1,2", "Set-Cookie: a=1", "X-Kept: k", "X-New: n", "Set-Cookie: b=2", "X-Fresh: f"}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("response lines %q, want %q", lines, wantLines)
	}
}
