package router

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/lb"
)

// proxyRig is a Router behind a real proxy, served by Baton's own server
// on a loopback listener as the data plane serves it, for tests of the
// phases as a client sees them: over HTTP/1 the server makes no header
// map for the router (see proxy.HeaderMapReader), so every field the
// phases read comes from Session.RequestHeader.
type proxyRig struct {
	router *Router
	addr   string // host:port of the proxy
	// arrivals counts requests the proxy received, withMap those of them
	// that came with a header map.
	arrivals, withMap atomic.Int64
}

// maxArrivals bounds the requests a rig proxies in one test.
const maxArrivals = 20

// slotOf is the slot of the upstream called name in st, -1 if none.
func slotOf(st *state, name string) int {
	if slot, ok := st.byName.lookup(name); ok {
		return slot
	}
	return -1
}

// newTestRouter is a Router on a registry of its own, closed with the test.
func newTestRouter(t testing.TB) *Router {
	r := New(lb.NewRegistry(lb.RegistryOptions{}), nil)
	t.Cleanup(r.registry.Close)
	return r
}

func newProxyRig(t *testing.T) *proxyRig {
	t.Helper()
	rig := &proxyRig{router: newTestRouter(t)}
	p := proxy.New[*RequestCtx](rig.router, proxy.Options{Logger: logtest.Logger(t)})
	srv := server.New(server.Options{Logger: logtest.Logger(t)}, server.Service{Name: "rig",
		Handler: &rigHandler{rig: rig, p: p}, Listeners: []server.Listener{{Name: "main", Addr: "127.0.0.1:0"}}})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rig.addr = srv.Addr("main").String()
	return rig
}

// rigHandler counts the requests in front of the proxy; it says what the
// proxy says about the header map, as a handler between the server and
// the proxy must.
type rigHandler struct {
	rig *proxyRig
	p   *proxy.Proxy[*RequestCtx]
}

func (h *rigHandler) ReadsRequestHeader() bool { return h.p.ReadsRequestHeader() }

func (h *rigHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header != nil {
		h.rig.withMap.Add(1)
	}
	if h.rig.arrivals.Add(1) > maxArrivals {
		// Without loop detection a proxy that is its own upstream
		// would recurse until it ran out of sockets; stop it here so
		// that such a test fails instead of hanging.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "request storm\n")
		return
	}
	h.p.ServeHTTP(w, r)
}

// route sends every request for host name to the upstream u.
func (rig *proxyRig) route(t *testing.T, name string, u snapshot.Upstream) {
	t.Helper()
	u.Name = "u"
	s := &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{host(name, prefix("/", "u"))},
		Upstreams: []snapshot.Upstream{u}}
	if err := rig.router.Apply(s); err != nil {
		t.Fatal(err)
	}
}

// get sends one request through the proxy without retries of its own.
func (rig *proxyRig) get(t *testing.T, host string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+rig.addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, vs := range header {
		req.Header[k] = vs
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// echoBackend answers 200 with name and remembers the Via header of each
// request it gets.
type echoBackend struct {
	addr string
	vias chan []string
}

func newEchoBackend(t *testing.T, name string) *echoBackend {
	t.Helper()
	b := &echoBackend{vias: make(chan []string, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.vias <- r.Header.Values("Via")
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	b.addr = strings.TrimPrefix(srv.URL, "http://")
	return b
}

// routeOpt sets one Gateway API field of a route built by gwRoute.
type routeOpt func(*snapshot.Route)

// gwRoute is a route with Gateway API matchers: pathType and path, then
// opts (withMethod, withHeader, withQuery, withOrder, withBackends).
func gwRoute(pathType snapshot.PathType, path, upstream string, opts ...routeOpt) snapshot.Route {
	r := snapshot.Route{PathType: pathType, Path: path, Upstream: upstream, Source: "ns/" + upstream}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func withMethod(m string) routeOpt { return func(r *snapshot.Route) { r.Method = m } }

func withOrder(n int) routeOpt { return func(r *snapshot.Route) { r.Order = n } }

func withHeader(name, value string, regex bool) routeOpt {
	return func(r *snapshot.Route) {
		r.Headers = append(r.Headers, snapshot.HeaderMatch{Name: name, Value: value, Regex: regex})
	}
}

func withQuery(name, value string, regex bool) routeOpt {
	return func(r *snapshot.Route) {
		r.QueryParams = append(r.QueryParams, snapshot.QueryMatch{Name: name, Value: value, Regex: regex})
	}
}

// withBackends gives the route weighted backends "name=weight".
func withBackends(backends ...snapshot.WeightedBackend) routeOpt {
	return func(r *snapshot.Route) { r.Upstream, r.Backends = "", backends }
}

// snapWith is snap plus an upstream for every backend the routes name.
func snapWith(hosts ...snapshot.VirtualHost) *snapshot.Snapshot {
	s := snap(hosts...)
	addBackendUpstreams(s, hosts)
	return s
}

func addBackendUpstreams(s *snapshot.Snapshot, hosts []snapshot.VirtualHost) {
	for _, h := range hosts {
		for _, r := range h.Routes {
			for _, b := range r.Backends {
				addUpstream(s, b.Upstream)
			}
		}
	}
}

// newRequest is a request as RequestFilter hands it to MatchFields:
// target is a path with an optional query; header is name, value pairs;
// local, when not "", is the address the connection was accepted on.
func newRequest(method, host, target, local string, header ...string) *http.Request {
	req := httptest.NewRequest(method, "http://placeholder"+target, nil)
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	if local != "" {
		addr := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local))
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, addr))
	}
	return req
}

// matchOf routes req as the router's RequestFilter does, its header
// matches reading the proxy's view of req.Header.
func matchOf(t *Table, req *http.Request) (Match, bool) {
	return t.MatchFields(req, fieldsOf(req.Header))
}

// fieldsOf is h as the proxy hands a request's fields to the phases
// (Session.RequestHeader), made from the map as over HTTP/2.
func fieldsOf(h http.Header) *proxy.RequestHeader {
	return (&proxy.Session{Request: &http.Request{Header: h}}).RequestHeader()
}

// upstreamOf names the upstream Match chose: "" for no route (404),
// "500" for a route whose backends all weigh 0.
func upstreamOf(s *snapshot.Snapshot, m Match, ok bool) string {
	switch {
	case !ok:
		return ""
	case m.Upstream < 0:
		return "500"
	}
	return s.Upstreams[m.Upstream].Name
}

// serve routes host to routes whose upstreams are named in ups, with
// one upstream per entry of ups (name: address).
func (rig *proxyRig) serve(t *testing.T, name string, routes []snapshot.Route, ups map[string]string) {
	t.Helper()
	s := &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{host(name, routes...)}}
	for _, n := range slices.Sorted(maps.Keys(ups)) {
		s.Upstreams = append(s.Upstreams, snapshot.Upstream{Name: n, Endpoints: []snapshot.Endpoint{{Address: ups[n]}}})
	}
	if err := rig.router.Apply(s); err != nil {
		t.Fatal(err)
	}
}

// do sends req through the proxy, with no retries of the client's own,
// and returns the response with its body read.
func (rig *proxyRig) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	req.URL.Scheme, req.URL.Host = "http", rig.addr
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// rigRequest is a request for the proxy to route by host and target.
func rigRequest(t *testing.T, method, host, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://placeholder"+target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	return req
}

// backend serves h on a loopback listener and returns its address.
func backend(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
