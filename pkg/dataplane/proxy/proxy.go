package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Proxy is the HTTP proxy application. It serves each request by running
// the Phases and forwarding to the peer they choose.
type Proxy[C any] struct {
	phases Phases[C]
	opts   Options
	peers  *peerPool
	bufs   sync.Pool
	ports  portNames // X-Forwarded-Port values
	// readsHeaderMap: the phases read Session.Request.Header (see
	// HeaderMapReader).
	readsHeaderMap bool
	// readsRemoteAddr: the phases read Session.Request.RemoteAddr (see
	// RemoteAddrReader).
	readsRemoteAddr bool
	dogs            watchdogs
	ids             *requestIDs
	// exchanges are those connections gave back when they went idle, and
	// those HTTP/2 requests gave back when they ended.
	exchanges sync.Pool
}

var _ http.Handler = (*Proxy[struct{}])(nil)

const copyBufferSize = 32 << 10

// New returns a proxy running phases. Zero Options fields take defaults.
func New[C any](phases Phases[C], opts Options) *Proxy[C] {
	opts = opts.withDefaults()
	p := &Proxy[C]{phases: phases, opts: opts, peers: newPeerPool(opts), ids: newRequestIDs(), readsHeaderMap: phasesReadHeaderMap(phases), readsRemoteAddr: phasesReadRemoteAddr(phases)}
	p.bufs.New = func() any {
		b := make([]byte, copyBufferSize)
		return &b
	}
	return p
}

// CloseIdlePeers forgets the pooled connections of every peer keep rejects
// and closes those that are idle. Requests still in flight to such a peer
// finish; their connections are closed once they are done.
func (p *Proxy[C]) CloseIdlePeers(keep func(Peer) bool) {
	p.peers.retire(keep)
}

// ServeHTTP proxies one request.
func (p *Proxy[C]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x, slot := p.exchangeFor(w)
	x.begin(r, w, p.peers)
	p.openWriteDeadline(x, r)
	x.session.resolveClient(p.opts.TrustedProxies)
	x.session.resolveRequestID(p.ids)
	abort := p.run(&x.session, &x.writer)
	p.closeWriteDeadline(x)
	switch {
	case slot == nil:
		x.Release() // the request's own: pooled again unless something may still hold it
	case abort || !x.reusable:
		*slot = nil // something may still hold parts of it: the next request gets another
		x.Release()
	}
	if abort {
		// The response is already under way: the only way left to tell
		// the client it is incomplete is to break the stream.
		panic(http.ErrAbortHandler)
	}
}

// exchangeFor is the exchange of a request written to w: the one its
// connection kept from its previous request when the server offers a
// per-connection slot (see exchange), else a pooled one of the request's
// own, released when it ends (HTTP/2: concurrent streams of a connection
// cannot share one). slot is nil then.
func (p *Proxy[C]) exchangeFor(w http.ResponseWriter) (*exchange, *any) {
	cl, ok := w.(connLocal)
	if !ok {
		return p.pooledExchange(), nil
	}
	slot := cl.ConnLocal()
	if x, ok := (*slot).(*exchange); ok && x.session.peers == p.peers {
		return x, slot
	}
	x := p.pooledExchange()
	*slot = x
	return x, slot
}

// pooledExchange is an exchange a connection or a request gave back, or
// a new one; its scratch is the holder's until it releases it.
func (p *Proxy[C]) pooledExchange() *exchange {
	x, _ := p.exchanges.Get().(*exchange)
	if x == nil || x.session.peers != p.peers {
		x = &exchange{home: &p.exchanges}
	}
	x.local = true
	x.writeBy = unknownWriteDeadline // whatever connection it served before
	return x
}

// connLocal is a server that keeps a value with a connection from one
// request to the next (pkg/dataplane/server's HTTP/1 engine does).
type connLocal interface{ ConnLocal() *any }

// run calls the phases and Logging exactly once, whatever happens,
// and reports whether the downstream response must be aborted.
func (p *Proxy[C]) run(s *Session, rw *responseWriter) (abort bool) {
	var ctx C
	logged := false
	defer func() {
		if v := recover(); v != nil {
			abort = p.recovered(s, rw, ctx, v, logged)
		}
	}()
	ctx = p.phases.NewCtx()
	err := p.serve(s, rw, ctx)
	if s.Status == 0 && err == nil {
		s.Status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	logged = true
	p.phases.Logging(s, err, ctx)
	_, abort = errors.AsType[*abortError](err) // AsType: errors.As would allocate the target
	// A client that went away gets no response at all: returning would
	// let net/http write an empty 200 to whoever still reads (a client
	// that only half-closed, say).
	return abort || s.Status == StatusClientClosedRequest
}

func (p *Proxy[C]) recovered(s *Session, rw *responseWriter, ctx C, v any, logged bool) (abort bool) {
	if s.x != nil {
		s.x.reusable = false // a phase stopped half-way: nothing it held is trusted again
	}
	var err error
	if v == http.ErrAbortHandler {
		err = &abortError{err: http.ErrAbortHandler}
		abort = true
	} else {
		p.opts.Logger.Error("proxy: recovered panic serving a request",
			slog.Any("panic", v), slog.String("method", s.Request.Method), slog.String("path", s.Request.URL.Path),
			slog.String("request_id", s.RequestID), slog.String("stack", string(debug.Stack())))
		p.opts.OnPanic()
		err = &Error{Status: http.StatusInternalServerError, Reason: "panic", Err: fmt.Errorf("%v", v)}
		if rw.wroteHeader {
			abort = true
		} else {
			writeError(rw, http.StatusInternalServerError)
		}
	}
	if !logged {
		p.safeLogging(s, err, ctx)
	}
	return abort
}

// safeLogging runs Logging after a panic; a second panic there is only logged.
func (p *Proxy[C]) safeLogging(s *Session, err error, ctx C) {
	defer func() {
		if v := recover(); v != nil {
			p.opts.Logger.Error("proxy: recovered panic in Logging",
				slog.Any("panic", v), slog.String("request_id", s.RequestID), slog.String("stack", string(debug.Stack())))
		}
	}()
	p.phases.Logging(s, err, ctx)
}

// serve runs the phases in order and answers the request.
func (p *Proxy[C]) serve(s *Session, rw *responseWriter, ctx C) error {
	if err := checkRequest(s.Request); err != nil {
		return p.fail(rw, err)
	}
	handled, err := p.phases.RequestFilter(s, ctx)
	if handled {
		return err
	}
	if err != nil {
		return p.fail(rw, err)
	}
	if max := p.opts.MaxRequestBodyBytes; max >= 0 && s.Request.ContentLength > max {
		return p.fail(rw, tooLarge(max)) // as nginx: refused before any upstream hears of it
	}
	return p.forward(s, rw, ctx)
}

// forward has the request answered upstream. It is serve's second half:
// a function with few returns gets its defers inlined (open-coded) by
// the compiler; with serve's, they were each a record run by
// runtime.deferreturn, per request.
func (p *Proxy[C]) forward(s *Session, rw *responseWriter, ctx C) error {
	if !s.Deadline.IsZero() {
		c, cancel := context.WithDeadline(s.Request.Context(), s.Deadline)
		defer cancel()
		s.ctx = c
	}
	body := newRequestBody(s.Request, rw.ResponseWriter, &p.opts, s.x)
	defer func() {
		if body.done() && s.x != nil {
			s.x.reusable = false
		}
	}()
	if s.Retry != nil {
		body.keepForReplay(s.Request.ContentLength)
	}
	a, err := p.attempts(s, body, ctx)
	if err != nil {
		return p.fail(rw, err)
	}
	defer p.finish(&a)
	if err := p.phases.ResponseFilter(s, a.head, ctx); err != nil {
		return p.fail(rw, err)
	}
	if a.head.StatusCode == http.StatusSwitchingProtocols {
		if s.x != nil {
			s.x.reusable = false // the connection is the tunnel's
		}
		return p.tunnel(s, rw, &a)
	}
	return p.stream(s, rw, &a)
}

// attempts asks for peers until one answers, retrying connect failures as
// long as FailToConnect wants to and MaxAttempts allows.
func (p *Proxy[C]) attempts(s *Session, body *requestBody, ctx C) (attempt, error) {
	s.body = body
	for n := 1; ; n++ {
		s.Attempt = n
		peer, err := p.phases.UpstreamPeer(s, ctx)
		if err != nil {
			return attempt{}, err
		}
		if peer == nil {
			return attempt{}, &Error{Status: http.StatusBadGateway, Reason: "no upstream peer was chosen"}
		}
		s.Peer = peer
		a, err := p.try(s, peer, body, ctx)
		if status := p.retryStatus(s, &a, err, n); status != 0 && p.phases.FailToConnect(s, peer, &StatusRetry{Status: status, TimedOut: err != nil}, ctx) {
			if a.resp != nil {
				p.finish(&a)
			}
			if err := p.backoff(s); err != nil {
				return attempt{}, err
			}
			continue
		}
		cause, reason := retryable(err, peer)
		if cause == nil {
			return a, err
		}
		retry := p.phases.FailToConnect(s, peer, cause, ctx)
		if !retry || n >= p.opts.MaxAttempts || body.started() {
			return attempt{}, &Error{Status: http.StatusBadGateway, Reason: reason, Err: cause}
		}
	}
}

// retryStatus is the status for which Session.Retry asks for another
// attempt after attempt n, 0 if it does not: a timed-out attempt counts
// as 504. A request whose body was not kept whole (larger than
// maxReplayBytes, or not all read by the upstream) is not retried, nor
// one past its Deadline.
func (p *Proxy[C]) retryStatus(s *Session, a *attempt, err error, n int) int {
	rp := s.Retry
	if rp == nil || !s.body.replayable() || n >= rp.Attempts || n >= p.opts.MaxAttempts || s.expired() {
		return 0
	}
	status := 0
	switch {
	case err == nil && a.resp.StatusCode != http.StatusSwitchingProtocols:
		status = a.resp.StatusCode
	case err != nil && statusOf(err) == http.StatusGatewayTimeout && !errors.Is(err, context.Canceled):
		status = http.StatusGatewayTimeout
	}
	if slices.Contains(rp.Statuses, status) {
		return status
	}
	return 0
}

// backoff waits Session.Retry.Backoff before the next attempt, unless the
// client leaves or the Deadline passes first.
func (p *Proxy[C]) backoff(s *Session) error {
	if s.Retry.Backoff <= 0 {
		return nil
	}
	t := time.NewTimer(s.Retry.Backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.context().Done():
		if err := s.Request.Context().Err(); err != nil {
			return clientGone(err)
		}
		return routeTimeout(s)
	}
}

// retryable returns the cause of a failure that another peer may be asked
// to redo, and how to report it if none is: a connect failure (nothing was
// sent) or a request safe to repeat that got no response.
func retryable(err error, peer *Peer) (error, string) {
	if ce, ok := errors.AsType[*connectError](err); ok {
		return ce.err, "connecting to upstream " + peer.Address + " failed"
	}
	if re, ok := errors.AsType[*resetError](err); ok {
		return re.err, "upstream " + peer.Address + " failed before responding"
	}
	return nil, ""
}

// fail answers the request with the status err calls for, unless the
// response is already under way or nobody is left to read it.
func (p *Proxy[C]) fail(rw *responseWriter, err error) error {
	status := statusOf(err)
	if status == StatusClientClosedRequest {
		rw.session.Status = status
		return err
	}
	if !rw.wroteHeader {
		writeError(rw, status)
	}
	return err
}
