package router

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
)

// RequestCtx is the per-request context the proxy phases share.
type RequestCtx struct {
	st       *state
	match    Match
	upstream *upstreamRuntime
	backend  *lb.Backend
	tried    lb.Tried
	peer     proxy.Peer
	// backendStatus is the status of the response backend sent, 0 before.
	backendStatus int
}

var (
	_ proxy.Phases[*RequestCtx] = (*Router)(nil)
	_ proxy.HeaderMapReader     = (*Router)(nil)
	_ proxy.RemoteAddrReader    = (*Router)(nil)
)

// ReadsRequestHeader is false: the router reads the client's fields from
// Session.RequestHeader (header matches, Via), never from
// Session.Request.Header, which the HTTP/1 server then does not make. A
// type that embeds *Router and reads Request.Header in a phase of its
// own must say true (see proxy.HeaderMapReader); one that embeds the
// proxy.Phases interface, as WrapRouter's example does, says nothing
// and gets the map.
func (r *Router) ReadsRequestHeader() bool { return false }

// ReadsRemoteAddr is false: the router reads the client from
// Session.ClientAddr, never Session.Request.RemoteAddr, which the HTTP/1
// server then leaves empty (see proxy.RemoteAddrReader). A type that
// embeds *Router and reads RemoteAddr in a phase of its own must say true.
func (r *Router) ReadsRemoteAddr() bool { return false }

// NewCtx pins the request to the configuration in force when it arrived, so
// a swap in the middle of a request (or of its retries) cannot change which
// pool it uses.
//
// Contexts are recycled once Logging returns (nothing holds one past it:
// a mirror keeps only its own request and the state's upstream), so a
// proxied request allocates none.
func (r *Router) NewCtx() *RequestCtx {
	ctx := requestCtxs.Get().(*RequestCtx)
	ctx.st = r.current.Load()
	return ctx
}

var requestCtxs = sync.Pool{New: func() any { return new(RequestCtx) }}

// recycle clears ctx, so that no pool or route stays reachable from the
// free list, and gives it back.
func (ctx *RequestCtx) recycle() {
	*ctx = RequestCtx{}
	requestCtxs.Put(ctx)
}

// RequestFilter routes the request and answers it directly when nothing
// matches, the path is unsafe to route, or the request already passed
// this process (a loop through an upstream: each pass would add a hop
// until connections or memory ran out).
func (r *Router) RequestFilter(s *proxy.Session, ctx *RequestCtx) (bool, error) {
	req := s.Request
	if r.hop.seenIn(s.RequestHeader()) {
		return true, writeStatus(s, http.StatusLoopDetected, "request loop: this request already passed through this proxy\n")
	}
	if !normalisePath(req) {
		return true, writeStatus(s, http.StatusBadRequest, "malformed request path\n")
	}
	m, ok := ctx.st.table.MatchFields(req, s.RequestHeader())
	if !ok {
		return true, writeStatus(s, http.StatusNotFound, "no route for this host and path\n")
	}
	ctx.match = m
	if rd := redirectOf(m.Route, s.Request); rd != nil {
		return true, writeRedirect(s, m.Route, rd)
	}
	if m.Upstream < 0 {
		return true, writeStatus(s, http.StatusInternalServerError, "no valid backend of weight above 0 for this request (see the route's status)\n")
	}
	ctx.upstream = ctx.st.upstreams.at(m.Upstream)
	applyRoutePolicy(s, m.Route)
	return false, nil
}

// normalisePath cleans dot segments and duplicate slashes so that routing
// and the upstream see the same path: "/public/../admin" is routed, and
// forwarded, as "/admin". Paths that are not absolute are refused, and so
// are paths that backends resolve differently from us (snapshot.AmbiguousPath).
func normalisePath(req *http.Request) bool {
	p := req.URL.Path
	if p == "" || p[0] != '/' {
		return req.Method == http.MethodOptions && req.RequestURI == "*"
	}
	if hasControlByte(p) || snapshot.AmbiguousPath(p) {
		// A decoded %00 or %0A, "..;" or a backslash means different
		// things to different backends; nothing legitimate routes on it.
		return false
	}
	if !needsCleaning(p) {
		return true
	}
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && cleaned != "/" {
		cleaned += "/"
	}
	req.URL.Path = cleaned
	req.URL.RawPath = ""
	return true
}

func hasControlByte(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return true
		}
	}
	return false
}

func needsCleaning(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

func writeStatus(s *proxy.Session, status int, body string) error {
	h := s.Writer.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	s.Writer.WriteHeader(status)
	_, err := s.Writer.Write([]byte(body))
	s.Status = status
	return err
}

// UpstreamPeer picks a backend the request has not tried yet.
func (r *Router) UpstreamPeer(s *proxy.Session, ctx *RequestCtx) (*proxy.Peer, error) {
	up := ctx.upstream
	if up.pool == nil || up.pool.Len() == 0 {
		return nil, &proxy.Error{Status: http.StatusServiceUnavailable, Reason: "upstream " + up.name + " has no ready endpoints"}
	}
	b := up.pool.Pick(&ctx.tried)
	if b == nil && s.Retry != nil {
		// A route's retries may go back to a backend already tried (the
		// only one, often): it answered, it did not fail to connect.
		b = up.pool.Pick(nil)
	}
	if b == nil {
		return nil, &proxy.Error{Status: http.StatusBadGateway, Reason: "every endpoint of upstream " + up.name + " failed"}
	}
	ctx.tried.Add(b)
	b.Begin()
	ctx.backend = b
	ctx.peer = up.peer
	ctx.peer.Address = b.Addr()
	if up.sniFromRequest {
		// The upstream names the server it expects no better than the
		// Host the request carries, so that is what TLS verifies.
		ctx.peer.SNI = serverName(ctx.upstreamHost(s.Request.Host))
	}
	return &ctx.peer, nil
}

// serverName is the TLS name for a Host header or a Host rewrite, spelled
// the way routing compares hosts (port and brackets removed, ASCII lower
// case, one trailing dot dropped), so that spellings of one name share
// one pool of upstream connections. An IP literal is kept in canonical
// form: crypto/tls sends no SNI for it (RFC 6066 allows DNS names only)
// and verifies the certificate's IP addresses instead.
func serverName(host string) string {
	host = strings.TrimSuffix(hostWithoutPort(host), ".")
	if mayBeIP(host) {
		if ip, err := netip.ParseAddr(host); err == nil {
			return ip.WithZone("").String()
		}
	}
	return snapshot.LowerASCII(host)
}

// mayBeIP is a cheap test that keeps DNS names away from netip.ParseAddr,
// which allocates its error: no top-level domain is all digits.
func mayBeIP(host string) bool {
	return host != "" && (strings.IndexByte(host, ':') >= 0 || '0' <= host[len(host)-1] && host[len(host)-1] <= '9')
}

// UpstreamRequestFilter applies the route's filters (rewrite, header
// edits) and sends the mirrors their copy, then applies the upstream's Host
// rewrite and header edits: the Upstream says what its backends need, so
// it has the last word. This process is added to Via last, so that no
// edit can remove the mark loop detection relies on.
func (r *Router) UpstreamRequestFilter(s *proxy.Session, req *proxy.Request, ctx *RequestCtx) error {
	if f := ctx.match.Route.Filters; f != nil {
		applyRequestFilters(req, ctx.match.Route, f)
		if len(f.Mirrors) > 0 && s.Attempt == 1 {
			r.mirror(s, req, ctx, f.Mirrors)
		}
	}
	applyUpstreamEdits(&req.Host, fieldsHeader{&req.Header}, ctx.upstream)
	r.hop.markFields(&req.Header, s.Request)
	return nil
}

// applyUpstreamEdits applies the upstream's Host rewrite and header
// edits to a request's host and header (the upstream request's fields,
// or a mirror's map).
func applyUpstreamEdits(host *string, h editableHeader, up *upstreamRuntime) {
	if up.host != "" {
		*host = up.host
	}
	for _, name := range up.headers.Remove {
		h.Del(name)
	}
	for _, x := range up.headers.Set {
		h.Set(x.Name, x.Value)
	}
	for _, x := range up.headers.Add {
		h.Add(x.Name, x.Value)
	}
}

// upstreamHost is the Host the upstream request will carry when neither
// the upstream nor its TLS settings name one: the route's rewrite, else
// the client's.
func (ctx *RequestCtx) upstreamHost(host string) string {
	if f := ctx.match.Route.Filters; f != nil && f.Rewrite != nil && f.Rewrite.Hostname != "" {
		return f.Rewrite.Hostname
	}
	return host
}

// minConnectRetries is how many other backends a request whose connection
// failed is tried on even when the upstream asks for no retries: nothing
// was sent, so this is safe for every method, and a pod that just died
// must not turn into errors for clients while EndpointSlices catch up.
const minConnectRetries = 2

// FailToConnect counts the failure against the backend and retries on
// another one while the retry budget lasts.
// A route's retry policy (the proxy checked its budget before asking) is
// granted, and raises the budget for connect failures to its own.
func (r *Router) FailToConnect(s *proxy.Session, peer *proxy.Peer, err error, ctx *RequestCtx) bool {
	if sr, ok := err.(*proxy.StatusRetry); ok {
		ctx.settleRetried(sr)
		return true
	}
	ctx.releaseBackend(true)
	budget := max(ctx.upstream.retries, minConnectRetries)
	if s.Retry != nil {
		budget = max(budget, s.Retry.Attempts-1)
	}
	return s.Attempt <= budget
}

// settleRetried counts the attempt a route retries against its backend as
// passive health would count it had it been the final answer.
func (ctx *RequestCtx) settleRetried(sr *proxy.StatusRetry) {
	if ctx.backend == nil {
		return
	}
	if sr.TimedOut {
		ctx.releaseBackend(true)
		return
	}
	ctx.backend.EndResponse(sr.Status)
	ctx.backend = nil
}

// ResponseFilter applies the route's response header edits; it notes the
// status for passive health.
func (r *Router) ResponseFilter(s *proxy.Session, resp *proxy.Response, ctx *RequestCtx) error {
	ctx.backendStatus = resp.StatusCode
	if f := ctx.match.Route.Filters; f != nil {
		editHeaders(fieldsHeader{&resp.Header}, &f.ResponseHeaders)
	}
	return nil
}

// Logging settles the backend's counters and reports the request.
func (r *Router) Logging(s *proxy.Session, err error, ctx *RequestCtx) {
	switch {
	case ctx.backend == nil:
		// No backend, or its failure was counted by FailToConnect: a 502
		// or 503 the proxy answered itself is not held against anyone.
	case err != nil:
		// A client that went away says nothing about the backend's health.
		ctx.releaseBackend(!errors.Is(err, context.Canceled))
	default:
		ctx.backend.EndResponse(ctx.backendStatus)
		ctx.backend = nil
	}
	elapsed := s.Elapsed()
	source, upstream := "", ""
	if ctx.match.Route != nil {
		source = ctx.match.Route.Source
	}
	if ctx.upstream != nil {
		upstream = ctx.upstream.name // the backend chosen when the route has several
	}
	if r.access != nil {
		r.logAccess(s, ctx, elapsed)
	}
	if r.observer != nil {
		r.observer.ObserveRequest(source, upstream, s.Status, elapsed)
	}
	ctx.recycle()
}

// logAccess hands the request's line to the access log, which formats it
// here and writes it elsewhere.
func (r *Router) logAccess(s *proxy.Session, ctx *RequestCtx, elapsed time.Duration) {
	e := accesslog.Entry{
		Time: s.Start, RequestID: s.RequestID, Client: s.ClientAddr,
		Method: s.Request.Method, Host: s.Request.Host, Path: s.Request.URL.Path, Protocol: s.Request.Proto,
		Status: s.Status, BytesReceived: s.BytesReceived(), BytesSent: s.BytesSent, Duration: elapsed,
		UpstreamStatus: ctx.backendStatus, Attempts: s.Attempt,
	}
	if ctx.match.Route != nil {
		e.Source = ctx.match.Route.Source
	}
	if ctx.upstream != nil {
		e.Upstream = ctx.upstream.name
	}
	if s.Peer != nil {
		e.UpstreamAddr = s.Peer.Address
	}
	r.access.Log(&e)
}

func (ctx *RequestCtx) releaseBackend(failed bool) {
	if ctx.backend != nil {
		ctx.backend.End(failed)
		ctx.backend = nil
	}
}
