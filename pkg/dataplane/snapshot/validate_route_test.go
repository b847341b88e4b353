package snapshot

import (
	"strings"
	"testing"
)

func TestCheckRoute(t *testing.T) {
	prefix := func(edit func(*Route)) Route {
		r := Route{PathType: PathPrefix, Path: "/a", Upstream: "u"}
		edit(&r)
		return r
	}
	redirect := func(rd Redirect) func(*Route) {
		return func(r *Route) { r.Filters = &RouteFilters{Redirect: &rd} }
	}
	rewrite := func(pt PathType, rw Rewrite) Route {
		return Route{PathType: pt, Path: "/a", Upstream: "u", Filters: &RouteFilters{Rewrite: &rw}}
	}
	prefixSwap := &PathModifier{Type: ReplacePrefixMatch, Value: "/b"}
	tests := []struct {
		name string
		r    Route
		want string // "" for valid, else part of the error
	}{
		{"plain Ingress route", prefix(func(*Route) {}), ""},
		{"regex path", Route{PathType: PathRegularExpression, Path: "/items/[0-9]+"}, ""},
		{"regex path that is no RE2", Route{PathType: PathRegularExpression, Path: "/(?<=a)b"}, "invalid RE2"},
		{"regex path with an unbalanced group", Route{PathType: PathRegularExpression, Path: "/a)|(b"}, "invalid RE2"},
		{"regex path too long", Route{PathType: PathRegularExpression, Path: "/" + strings.Repeat("a", MaxRegexLen)}, "longer than"},
		{"unknown path type", Route{PathType: 7, Path: "/"}, "unknown path type 7"},
		{"method", prefix(func(r *Route) { r.Method = "PATCH" }), ""},
		{"method with a space", prefix(func(r *Route) { r.Method = "GE T" }), `method "GE T" is not an HTTP token`},
		{"header", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Name: "X-Tag", Value: "a b"}} }), ""},
		{"header name with a colon", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Name: "X:Tag", Value: "a"}} }), "not an HTTP token"},
		{"empty header name", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Value: "a"}} }), "not an HTTP token"},
		{"header value with a newline", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Name: "X", Value: "a\nb"}} }), "control byte"},
		{"header value with surrounding space", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Name: "X", Value: " a"}} }), "white space"},
		{"header regex", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Name: "X", Value: "a|b", Regex: true}} }), ""},
		{"header regex that is no RE2", prefix(func(r *Route) { r.Headers = []HeaderMatch{{Name: "X", Value: "a(", Regex: true}} }), "header match X: invalid RE2"},
		{"query", prefix(func(r *Route) { r.QueryParams = []QueryMatch{{Name: "q", Value: "a b"}} }), ""},
		{"query regex that is no RE2", prefix(func(r *Route) { r.QueryParams = []QueryMatch{{Name: "q", Value: "[", Regex: true}} }), "query match q: invalid RE2"},
		{"empty query name", prefix(func(r *Route) { r.QueryParams = []QueryMatch{{Value: "a"}} }), "empty parameter name"},
		{"weights", prefix(func(r *Route) {
			r.Backends = []WeightedBackend{{Upstream: "a", Weight: 0}, {Upstream: "b", Weight: MaxWeight}}
		}), ""},
		{"negative weight", prefix(func(r *Route) { r.Backends = []WeightedBackend{{Upstream: "a", Weight: -1}} }), "weight -1 is not between 0"},
		{"weight too large", prefix(func(r *Route) { r.Backends = []WeightedBackend{{Upstream: "a", Weight: MaxWeight + 1}} }), "is not between 0"},
		{"backend without a name", prefix(func(r *Route) { r.Backends = []WeightedBackend{{Weight: 1}} }), "backend without an upstream name"},
		{"redirect", prefix(redirect(Redirect{Scheme: "https", Port: 8443, StatusCode: 301, Hostname: "b.example"})), ""},
		{"redirect status 303", prefix(redirect(Redirect{StatusCode: 303})), ""},
		{"redirect status 307", prefix(redirect(Redirect{StatusCode: 307})), ""},
		{"redirect status 308", prefix(redirect(Redirect{StatusCode: 308})), ""},
		{"redirect status 304", prefix(redirect(Redirect{StatusCode: 304})), "status 304 is not a redirect status (301, 302, 303, 307, 308)"},
		{"redirect port 0 means the default", prefix(redirect(Redirect{Port: 0})), ""},
		{"redirect port 65536", prefix(redirect(Redirect{Port: 65536})), "port 65536 is not between 1 and 65535"},
		{"redirect scheme ftp", prefix(redirect(Redirect{Scheme: "ftp"})), `scheme "ftp"`},
		{"redirect to a wildcard", prefix(redirect(Redirect{Hostname: "*.example"})), "must not be a wildcard"},
		{"prefix rewrite on a Prefix route", rewrite(PathPrefix, Rewrite{Path: prefixSwap}), ""},
		{"prefix rewrite dropping the prefix", rewrite(PathPrefix, Rewrite{Path: &PathModifier{Type: ReplacePrefixMatch}}), ""},
		{"prefix rewrite on an Exact route", rewrite(PathExact, Rewrite{Path: prefixSwap}), "ReplacePrefixMatch needs a Prefix route, not Exact"},
		{"prefix redirect on an Exact route", Route{PathType: PathExact, Path: "/a", Filters: &RouteFilters{Redirect: &Redirect{Path: prefixSwap}}}, "ReplacePrefixMatch needs a Prefix route"},
		{"full path rewrite on an Exact route", rewrite(PathExact, Rewrite{Path: &PathModifier{Type: ReplaceFullPath, Value: "/b"}}), ""},
		{"relative full path", rewrite(PathExact, Rewrite{Path: &PathModifier{Type: ReplaceFullPath, Value: "b"}}), "must start with '/'"},
		{"full path with a query", rewrite(PathExact, Rewrite{Path: &PathModifier{Type: ReplaceFullPath, Value: "/b?c"}}), "must not contain '?'"},
		{"header edit with a bad name", prefix(func(r *Route) {
			r.Filters = &RouteFilters{RequestHeaders: HeaderEdits{Set: []Header{{Name: "a b", Value: "c"}}}}
		}), "request header filter"},
		{"mirror without a name", prefix(func(r *Route) { r.Filters = &RouteFilters{Mirrors: []string{""}} }), "mirror without an upstream name"},
		{"negative timeout", prefix(func(r *Route) { r.Timeouts.Request = -1 }), "must not be negative"},
		{"retry code 200", prefix(func(r *Route) { r.Retry = &RouteRetry{Attempts: 2, Codes: []int{200}} }), "status 200 is not between 400 and 599"},
	}
	for _, tt := range tests {
		err := CheckRoute(&tt.r)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: CheckRoute = %v, want ok", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: CheckRoute = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestCompileRegexIsAnchored(t *testing.T) {
	re, err := CompileRegex("a|b")
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"a": true, "b": true, "ab": false, "xa": false, "bx": false} {
		if re.MatchString(s) != want {
			t.Errorf("%q matched %v, want %v", s, !want, want)
		}
	}
}

func TestCheckGateways(t *testing.T) {
	port := func(p int) GatewayPort { return GatewayPort{Port: p} }
	tests := []struct {
		name string
		gws  []Gateway
		want string
	}{
		{"two gateways", []Gateway{{Name: "a", Addresses: []string{"10.0.0.1", "fd00::1"}, Ports: []GatewayPort{port(80), port(443)}},
			{Name: "b", Addresses: []string{"10.0.0.2"}, Ports: []GatewayPort{port(80)}}}, ""},
		{"an address listed twice by one gateway", []Gateway{{Name: "a", Addresses: []string{"10.0.0.1", "10.0.0.1"}}}, ""},
		{"no name", []Gateway{{}}, "gateway without a name"},
		{"a name twice", []Gateway{{Name: "a"}, {Name: "a"}}, "gateway a listed twice"},
		{"a host name", []Gateway{{Name: "a", Addresses: []string{"gw.example"}}}, "is not an IP address"},
		{"a zone", []Gateway{{Name: "a", Addresses: []string{"fe80::1%eth0"}}}, "must not have a zone"},
		{"a shared address", []Gateway{{Name: "a", Addresses: []string{"10.0.0.1"}}, {Name: "b", Addresses: []string{"10.0.0.1"}}}, "gateways a and b share address 10.0.0.1"},
		{"a shared address, spelt IPv4-mapped", []Gateway{{Name: "a", Addresses: []string{"10.0.0.1"}}, {Name: "b", Addresses: []string{"::ffff:10.0.0.1"}}}, "share address 10.0.0.1"},
		{"port 0", []Gateway{{Name: "a", Ports: []GatewayPort{port(0)}}}, "port 0 is not between 1 and 65535"},
		{"port 65536", []Gateway{{Name: "a", Ports: []GatewayPort{port(65536)}}}, "port 65536"},
		{"a port twice", []Gateway{{Name: "a", Ports: []GatewayPort{port(80), port(80)}}}, "port 80 listed twice"},
		{"a host twice on a port", []Gateway{{Name: "a", Ports: []GatewayPort{{Port: 80, Hosts: []VirtualHost{{Name: "a.test"}, {Name: "A.test"}}}}}}, `host "A.test" listed twice`},
		{"a bad host", []Gateway{{Name: "a", Ports: []GatewayPort{{Port: 80, Hosts: []VirtualHost{{Name: "a b"}}}}}}, "not allowed in a host name"},
	}
	for _, tt := range tests {
		err := CheckGateways(tt.gws)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: CheckGateways = %v, want ok", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: CheckGateways = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}
