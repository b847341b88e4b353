package router

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

const (
	// maxMirrorsInFlight bounds the mirrored requests under way at once,
	// across routes: a slow or dead mirror must cost a bounded number of
	// goroutines and sockets, not one per request it is sent. Beyond it
	// mirror copies are dropped (mirroring is best effort by definition).
	maxMirrorsInFlight = 256
	// mirrorTimeout bounds one mirrored request, body included, so that a
	// mirror that never answers frees its slot.
	mirrorTimeout = 30 * time.Second
)

// mirror sends a copy of the upstream request req (route filters applied)
// to each of the route's mirror upstreams, in the background: the main
// request neither waits for them nor sees their failures, and their
// responses are read and dropped. Requests with a body are not mirrored:
// the body streams to the main upstream once and is not kept.
func (r *Router) mirror(s *proxy.Session, req *proxy.Request, ctx *RequestCtx, names []string) {
	if req.HasBody() {
		return
	}
	for _, name := range names {
		i, ok := ctx.st.byName.lookup(name)
		if !ok {
			continue
		}
		select {
		case r.mirrorSlots <- struct{}{}:
		default:
			r.mirrorsDropped.Add(1)
			continue
		}
		m, cancel := r.mirrorRequest(s, req, ctx.st.upstreams.at(i))
		go r.sendMirror(s, m, ctx.st.upstreams.at(i), cancel)
	}
}

// mirrorRequest copies req for up, with up's own Host rewrite and header
// edits and this hop's Via mark, on a context of its own: the mirror
// outlives neither its timeout nor depends on the client staying. The
// copy has strings of its own: it outlives the request, whose strings
// (the request ID, header fields) may be views of memory the proxy
// reuses for the connection's next request once Logging returned (see
// proxy.Session).
func (r *Router) mirrorRequest(s *proxy.Session, req *proxy.Request, up *upstreamRuntime) (*http.Request, context.CancelFunc) {
	c, cancel := context.WithTimeout(context.WithoutCancel(s.Request.Context()), mirrorTimeout)
	m := req.Clone(c)
	applyUpstreamEdits(&m.Host, requestHeader(m.Header), up)
	r.hop.mark(m.Header, s.Request)
	return m, cancel
}

// sendMirror sends m to a backend of up and drops the answer.
func (r *Router) sendMirror(s *proxy.Session, m *http.Request, up *upstreamRuntime, cancel context.CancelFunc) {
	defer func() {
		cancel()
		<-r.mirrorSlots
	}()
	if up.pool == nil {
		return
	}
	b := up.pool.Pick(nil)
	if b == nil {
		return
	}
	b.Begin()
	peer := up.peer
	peer.Address = b.Addr()
	if up.sniFromRequest {
		peer.SNI = serverName(m.Host)
	}
	m.URL.Host = peer.Address
	m.URL.Scheme = "http"
	if peer.Scheme == proxy.SchemeHTTPS {
		m.URL.Scheme = "https"
	}
	resp, err := s.RoundTrip(&peer, m)
	if err != nil {
		b.End(true)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		b.End(true)
		return
	}
	b.EndResponse(resp.StatusCode)
}

// MirrorsDropped counts mirror copies not sent because
// maxMirrorsInFlight were under way.
func (r *Router) MirrorsDropped() uint64 { return r.mirrorsDropped.Load() }
