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
