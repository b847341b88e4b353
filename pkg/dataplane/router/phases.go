package router

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
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

var _ proxy.Phases[*RequestCtx] = (*Router)(nil)

// NewCtx pins the request to the configuration in force when it arrived, so
// a swap in the middle of a request (or of its retries) cannot change which
// pool it uses.
func (r *Router) NewCtx() *RequestCtx {
	return &RequestCtx{st: r.current.Load()}
}

// RequestFilter routes the request and answers it directly when nothing
// matches or the path is unsafe to route.
func (r *Router) RequestFilter(s *proxy.Session, ctx *RequestCtx) (bool, error) {
	req := s.Request
	if !normalisePath(req) {
		return true, writeStatus(s, http.StatusBadRequest, "malformed request path\n")
	}
	m, ok := ctx.st.table.Match(req.Host, req.URL.Path)
	if !ok {
		return true, writeStatus(s, http.StatusNotFound, "no route for this host and path\n")
	}
	ctx.match = m
	ctx.upstream = &ctx.st.upstreams[m.Upstream]
	return false, nil
}

// normalisePath cleans dot segments and duplicate slashes so that routing
// and the upstream see the same path: "/public/../admin" is routed, and
// forwarded, as "/admin". Paths that are not absolute are refused.
func normalisePath(req *http.Request) bool {
	p := req.URL.Path
	if p == "" || p[0] != '/' {
		return req.Method == http.MethodOptions && req.RequestURI == "*"
	}
	if hasControlByte(p) {
		// A decoded %00 or %0A means different things to different
		// backends; nothing legitimate routes on it.
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
	if b == nil {
		return nil, &proxy.Error{Status: http.StatusBadGateway, Reason: "every endpoint of upstream " + up.name + " failed"}
	}
	ctx.tried.Add(b)
	b.Begin()
	ctx.backend = b
	ctx.peer = up.peer
	ctx.peer.Address = b.Addr()
	if ctx.peer.Scheme == proxy.SchemeHTTPS && ctx.peer.SNI == "" {
		// The upstream names the server it expects no better than the
		// Host the request will carry, so that is what TLS verifies.
		ctx.peer.SNI = up.host
		if ctx.peer.SNI == "" {
			ctx.peer.SNI = hostOnly(s.Request.Host)
		}
	}
	return &ctx.peer, nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// UpstreamRequestFilter applies the upstream's Host rewrite and header edits.
func (r *Router) UpstreamRequestFilter(s *proxy.Session, req *http.Request, ctx *RequestCtx) error {
	up := ctx.upstream
	if up.host != "" {
		req.Host = up.host
	}
	for _, name := range up.headers.Remove {
		req.Header.Del(name)
	}
	for _, h := range up.headers.Set {
		req.Header.Set(h.Name, h.Value)
	}
	for _, h := range up.headers.Add {
		req.Header.Add(h.Name, h.Value)
	}
	return nil
}

// minConnectRetries is how many other backends a request whose connection
// failed is tried on even when the upstream asks for no retries: nothing
// was sent, so this is safe for every method, and a pod that just died
// must not turn into errors for clients while EndpointSlices catch up.
const minConnectRetries = 2

// FailToConnect counts the failure against the backend and retries on
// another one while the retry budget lasts.
func (r *Router) FailToConnect(s *proxy.Session, peer *proxy.Peer, err error, ctx *RequestCtx) bool {
	ctx.releaseBackend(true)
	return s.Attempt <= max(ctx.upstream.retries, minConnectRetries)
}

// ResponseFilter leaves upstream responses as they are; it notes the
// status for passive health.
func (r *Router) ResponseFilter(s *proxy.Session, resp *http.Response, ctx *RequestCtx) error {
	ctx.backendStatus = resp.StatusCode
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
	if r.observer == nil {
		return
	}
	source, upstream := "", ""
	if ctx.match.Route != nil {
		source = ctx.match.Route.Source
		upstream = ctx.match.Route.Upstream
	}
	r.observer.ObserveRequest(source, upstream, s.Status, time.Since(s.Start))
}

func (ctx *RequestCtx) releaseBackend(failed bool) {
	if ctx.backend != nil {
		ctx.backend.End(failed)
		ctx.backend = nil
	}
}
