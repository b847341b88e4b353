package router

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/racetest"
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

// peerFor routes a request for host through r and returns its peer.
func peerFor(t *testing.T, r *Router, host string) proxy.Peer {
	t.Helper()
	req := &http.Request{Method: "GET", Host: host, URL: &url.URL{Path: "/"}}
	s := &proxy.Session{Request: req, Writer: httptest.NewRecorder(), Attempt: 1}
	ctx := r.NewCtx()
	if handled, err := r.RequestFilter(s, ctx); handled || err != nil {
		t.Fatalf("%q not routed: %v", host, err)
	}
	p, err := r.UpstreamPeer(s, ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx.releaseBackend(false)
	return *p
}

func httpsRouter(t *testing.T, tlsConf snapshot.UpstreamTLS, hostRewrite string) *Router {
	t.Helper()
	r := newTestRouter(t)
	s := snap(host("", prefix("/", "u")))
	s.Upstreams[0].Endpoints = []snapshot.Endpoint{{Address: "127.0.0.1:1"}}
	s.Upstreams[0].Protocol = snapshot.ProtocolHTTPS
	s.Upstreams[0].TLS = tlsConf
	s.Upstreams[0].HostRewrite = hostRewrite
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	return r
}

// The TLS name taken from the Host is spelled as routing compares hosts;
// an IP literal is kept (canonical) for crypto/tls to verify, unsent.
func TestTLSNameFromHost(t *testing.T) {
	r := httpsRouter(t, snapshot.UpstreamTLS{}, "")
	tests := map[string]string{
		"shop.test":           "shop.test",
		"Shop.TEST":           "shop.test",
		"shop.test.":          "shop.test",
		"SHOP.test.:8443":     "shop.test",
		"shop.test:80":        "shop.test",
		"127.0.0.1":           "127.0.0.1",
		"127.0.0.1:8443":      "127.0.0.1",
		"[::1]:443":           "::1",
		"[0:0:0:0:0:0:0:1]":   "::1",
		"[FE80::1%25eth0]:80": "fe80::1",
		"a.b.3":               "a.b.3",
		"":                    "",
	}
	for h, want := range tests {
		if got := peerFor(t, r, h).SNI; got != want {
			t.Errorf("Host %q: TLS name %q, want %q", h, got, want)
		}
	}
}

// A Host rewrite names the server without its port; a configured server
// name wins over both.
func TestTLSNameFromHostRewrite(t *testing.T) {
	if got := peerFor(t, httpsRouter(t, snapshot.UpstreamTLS{}, "Name.test:8443"), "front.test").SNI; got != "name.test" {
		t.Errorf("rewrite to Name.test:8443: TLS name %q, want name.test", got)
	}
	if got := peerFor(t, httpsRouter(t, snapshot.UpstreamTLS{ServerName: "tls.test"}, "name.test:8443"), "front.test").SNI; got != "tls.test" {
		t.Errorf("with a server name: TLS name %q, want tls.test", got)
	}
}

// PeerFilter keeps what the upstreams produce and nothing else.
func TestPeerFilter(t *testing.T) {
	r := httpsRouter(t, snapshot.UpstreamTLS{}, "")
	p := peerFor(t, r, "a.test")
	keep := r.PeerFilter()
	other := p
	other.SNI = "any.other.test"
	if !keep(p) || !keep(other) {
		t.Error("a peer the upstream produces (any TLS name from the Host) is not kept")
	}
	for name, change := range map[string]func(*proxy.Peer){
		"address":  func(p *proxy.Peer) { p.Address = "127.0.0.1:2" },
		"insecure": func(p *proxy.Peer) { p.InsecureSkipVerify = true },
		"timeout":  func(p *proxy.Peer) { p.IdleTimeout = time.Minute },
		"scheme":   func(p *proxy.Peer) { p.Scheme = proxy.SchemeHTTP1 },
		"roots":    func(p *proxy.Peer) { p.RootCAs = x509.NewCertPool() },
	} {
		q := p
		change(&q)
		if keep(q) {
			t.Errorf("a peer with another %s is kept", name)
		}
	}
	fixed := httpsRouter(t, snapshot.UpstreamTLS{ServerName: "tls.test"}, "")
	p = peerFor(t, fixed, "a.test")
	other = p
	other.SNI = "a.test"
	if keep := fixed.PeerFilter(); !keep(p) || keep(other) {
		t.Error("with a fixed server name, only that name is kept")
	}
}

// TestRoutedRequestAllocatesNothing: the router's part of a proxied
// request (its context, the match, the pick of a backend and Logging)
// stays off the allocator once warm.
func TestRoutedRequestAllocatesNothing(t *testing.T) {
	if racetest.Enabled {
		t.Skip("the race detector drops pooled contexts on purpose")
	}
	r := passiveRouter(t, snapshot.PassiveHealth{}, "127.0.0.1:1")
	req := &http.Request{Method: "GET", Host: "a.test", URL: &url.URL{Path: "/api"}, Header: http.Header{}}
	s := &proxy.Session{Request: req, Writer: httptest.NewRecorder(), Attempt: 1, Status: http.StatusOK}
	// Called as the proxy calls them, through an interface the compiler
	// cannot see through: called directly, it could keep a context on the
	// stack.
	phases := opaquePhases(r)
	allocs := testing.AllocsPerRun(1000, func() {
		ctx := phases.NewCtx()
		if handled, err := phases.RequestFilter(s, ctx); handled || err != nil {
			t.Fatalf("not routed: %v", err)
		}
		if _, err := phases.UpstreamPeer(s, ctx); err != nil {
			t.Fatal(err)
		}
		phases.Logging(s, nil, ctx)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per routed request, want 0", allocs)
	}
}

//go:noinline
func opaquePhases(r *Router) proxy.Phases[*RequestCtx] { return r }
