package router

import (
	"net/http"
	"net/url"
	"testing"
)

func TestNormalisePath(t *testing.T) {
	tests := []struct {
		raw, wantPath string
		ok            bool
	}{
		{"/plain/path", "/plain/path", true},
		{"/a/../admin", "/admin", true},
		{"/a/%2e%2e/admin", "/admin", true},
		{"//double//slash/", "/double/slash/", true},
		{"/trailing/./", "/trailing/", true},
		{"/..", "/", true},
		{"/a%2Fb", "/a/b", true}, // decoded for routing, forwarded as sent
		{"/nul%00byte", "", false},
		{"/newline%0Aheader", "", false},

		// Tomcat and Jetty drop path parameters before resolving dot
		// segments; IIS takes a backslash for a slash.
		{"/public/..;/admin", "", false},
		{"/public/%2e%2e;/admin", "", false},
		{"/public/..%3b/admin", "", false},
		{"/public/..;jsessionid=x/admin", "", false},
		{"/.;/admin", "", false},
		{"/public/.;v=1", "", false},
		{"/public/..;", "", false},
		{"/a;x/..;/admin", "", false},
		{`/public\..\admin`, "", false},
		{"/public/%5C../admin", "", false},
		{"/public/%5c", "", false},
		{"/a;v=1/b", "/a;v=1/b", true},
		{"/file;jsessionid=x", "/file;jsessionid=x", true},
		{"/a;v=1/b;w=2/c", "/a;v=1/b;w=2/c", true},
		{"/x;..;/admin", "/x;..;/admin", true}, // the segment is "x"
		{"/...;/a", "/...;/a", true},
		{"/..a;b/c", "/..a;b/c", true},
		{"/a/;/b", "/a/;/b", true},
		{"/a/../b;v=1", "/b;v=1", true},
	}
	for _, tt := range tests {
		u, err := url.ParseRequestURI(tt.raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.raw, err)
		}
		req := &http.Request{Method: http.MethodGet, URL: u, RequestURI: tt.raw}
		ok := normalisePath(req)
		if ok != tt.ok || (ok && req.URL.Path != tt.wantPath) {
			t.Errorf("%s: ok=%v path=%q, want ok=%v path=%q", tt.raw, ok, req.URL.Path, tt.ok, tt.wantPath)
		}
	}
}

// Clean paths, the common case, are checked without allocating.
func TestNormalisePathAllocatesNothingForCleanPaths(t *testing.T) {
	for _, raw := range []string{"/api/v1/users/42", "/static/app.js", "/a;v=1/b", "/"} {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{Method: http.MethodGet, URL: u, RequestURI: raw}
		if allocs := testing.AllocsPerRun(1000, func() { normalisePath(req) }); allocs != 0 {
			t.Errorf("%s: %v allocations", raw, allocs)
		}
	}
}
