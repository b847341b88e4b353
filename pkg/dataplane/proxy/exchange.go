package proxy

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// exchange is the state of one downstream request. Over HTTP/1 it is the
// connection's, kept in the server's per-connection slot and reused by
// the connection's next request: that request starts once the previous
// one's Logging returned and its response was written, so nothing of
// the previous request is in use any more but what outlives a request
// on purpose, which must copy (a mirror copies the upstream request; see
// Session.RoundTrip for the one field it may still read). Reused, a
// request allocates nothing: the upstream request and its field list,
// the upstream response and its header, the request body's wrapper and
// watchdog are the exchange's.
//
// An exchange used in a way that may leave something behind (a peer
// spoken to over HTTP/2, whose transport may still hold the request; a
// stall a watchdog broke, whose timer may still be closing a body) is
// not reused (reusable false).
type exchange struct {
	session Session
	writer  responseWriter

	local    bool // kept by the connection: the scratch below is reused
	reusable bool // nothing left behind by the current request (see above)
	// writeBy is the HTTP/1 connection's write deadline as the proxy
	// left it (monoclock.Nanos; 0 for none, or unknownWriteDeadline):
	// see senddeadline.go.
	writeBy int64
	// lend: the current attempt may use the exchange's upstream request,
	// header and response storage: it is the first, and goes to the
	// proxy's HTTP/1 client. Other transports get storage of their own,
	// and the exchange stays reusable.
	lend bool
	home *sync.Pool // where Release puts it

	// ctx is the downstream request's context as the upstream request of
	// a first attempt carries it: it leads the HTTP/1 client to the
	// exchange's response storage and context watch.
	ctx      *exchangeCtx  // never written once made: contexts derived from it may outlive the request
	outProto *http.Request // a request carrying ctx, copied into out
	out      http.Request
	outHead  Request // out's head (see upstreamHead)
	body     requestBody
	resp     h1Response
	respUsed bool // resp holds this request's response
	watch    ctxWatch
	dog      *watchdog // the responses' watchdog, between them (see responseDog)
	ids      idArena   // generated request ids (never reused: see resolveRequestID)
}

// exchangeCtx is a request's context, marked as the exchange's. It is
// never written once made: contexts derived from it (a dial's, say) may
// read it after the request ended.
type exchangeCtx struct {
	context.Context
	x *exchange
}

// AfterFunc is context's afterFuncer, so that a context derived from c
// over a context that has one (the HTTP/1 server's connection context)
// registers with it rather than watching it from a goroutine.
func (c *exchangeCtx) AfterFunc(f func()) (stop func() bool) { return afterFunc(c.Context, f) }

// afterFuncer is a context that runs a function when it ends by itself:
// pkg/dataplane/server's HTTP/1 connection context does so without
// context.AfterFunc's allocations (a child context, the stop function
// and, on a *cancelCtx, a map for its children).
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

// watchable is a context that calls a watcher when it ends, without an
// allocation: pkg/dataplane/server's HTTP/1 connection context. The
// watcher is its own key, where AfterFunc's stop function would be
// made per registration.
type watchable interface {
	Watch(w interface{ ContextDone() })
	Unwatch(w interface{ ContextDone() }) bool
}

// afterFunc is context.AfterFunc(ctx, f), registered with ctx directly
// when ctx can take it.
func afterFunc(ctx context.Context, f func()) (stop func() bool) {
	if a, ok := ctx.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(ctx, f)
}

// begin readies x for the request r written to w.
func (x *exchange) begin(r *http.Request, w http.ResponseWriter, peers *peerPool) {
	x.writer = responseWriter{ResponseWriter: w, session: &x.session}
	x.session.begin(r, &x.writer, peers)
	x.session.useReceivedFields(w)
	x.reusable, x.respUsed, x.lend = x.local, false, false
	if x.local && (x.ctx == nil || x.ctx.Context != r.Context()) {
		x.ctx, x.outProto = newExchangeCtx(r.Context(), x) // once per connection (HTTP/2: per request)
	}
	x.session.x = x
}

// begin resets s for the request r. Every field is reset but peers,
// which a Session never changes, and which a mirror sent by the previous
// request may still read (RoundTrip may be called after a Session ended),
// and mapView, storage for the next RequestHeader made from a map.
func (s *Session) begin(r *http.Request, w http.ResponseWriter, peers *peerPool) {
	s.Request, s.Writer, s.Attempt, s.Status, s.BytesSent = r, w, 0, 0, 0
	s.Start, s.Peer, s.ClientAddr, s.RequestID = time.Now(), nil, netip.Addr{}, ""
	s.Deadline, s.AttemptTimeout, s.Retry = time.Time{}, 0, nil
	s.origin, s.generatedID, s.idReplaced, s.requestIDBytes, s.sentAt = origin{}, "", false, [32]byte{}, 0
	s.upstreamURL, s.body, s.ctx, s.x = url.URL{}, nil, nil, nil
	s.reqHeader, s.reqHeaderSet = RequestHeader{}, false
	if s.peers != peers {
		s.peers = peers
	}
}

// Elapsed is how long the request took: from Start to when its response
// was handed to the server whole, if the proxy read the clock then (it
// does to bound the last flush of a streamed HTTP/1 response), else to
// now. Logging, which comes right after, gets the duration without a
// clock read of its own.
func (s *Session) Elapsed() time.Duration {
	if s.sentAt != 0 {
		return monoclock.At(s.sentAt).Sub(s.Start)
	}
	return time.Since(s.Start)
}

// Release is called by the server when the connection that kept x goes
// idle or ends: x goes back to its proxy's pool for another connection.
func (x *exchange) Release() {
	if !x.watch.release() {
		x.reusable = false // the late call would abort the next connection's request
	}
	if !x.reusable || x.home == nil {
		return // what may still use parts of it is left alone
	}
	x.trim()
	x.session.Request, x.session.Writer, x.writer.ResponseWriter = nil, nil, nil
	x.out, x.body.rc = http.Request{}, nil
	x.home.Put(x)
}

// trim drops what an unusually large request or response grew, so that
// a connection does not keep it.
func (x *exchange) trim() {
	fields := x.outHead.Header.fields
	clear(fields[:cap(fields)]) // views of the client's heads
	if cap(fields) > 2*maxPooledFields {
		fields = nil
	}
	x.outHead = Request{Header: Header{fields: fields[:0]}}
	view := x.session.mapView
	clear(view[:cap(view)]) // views of an HTTP/2 request's map
	if cap(view) > 2*maxPooledFields {
		view = nil
	}
	x.session.mapView, x.session.reqHeader = view[:0], RequestHeader{}
	x.resp.trim()
}

// maxPooledFields bounds the field lists an exchange keeps.
const maxPooledFields = 64

// upstreamRequest is the exchange's request for an attempt it lends its
// storage to, carrying ctx; nil if the exchange cannot provide it: a
// retry gets one of its own (a transport may still hold the previous
// attempt's), and so does an attempt with a context of its own (a
// Deadline, an AttemptTimeout).
func (x *exchange) upstreamRequest(s *Session, ctx context.Context) *http.Request {
	if !x.lend || ctx != s.Request.Context() {
		return nil
	}
	if x.outProto == nil {
		x.outProto = (&http.Request{}).WithContext(x.ctx)
	}
	x.out = *x.outProto
	return &x.out
}

// exchangeOf is the exchange a request's context leads to, nil if none:
// the HTTP/1 client stores the response in it.
func exchangeOf(req *http.Request) *exchange {
	if ec, ok := req.Context().(*exchangeCtx); ok && ec.x.ctx == ec {
		return ec.x
	}
	return nil
}

// ctxWatch calls the abort function of the current upstream exchange
// when the downstream context ends, as context.AfterFunc would, but
// registered once per connection rather than once per request.
type ctxWatch struct {
	mu      sync.Mutex
	parent  context.Context // what the registration watches
	unreg   func() bool     // ends the registration
	watched watchable       // or this does: the parent, watchable
	fired   bool            // parent ended
	abort   func()          // the current exchange's; nil between exchanges
	stopFn  func() bool     // stop, as a func value made once
	fireFn  func()
	pending bool // abort is set and has not run
}

// watchContext calls abort once ctx is done, unless the returned stop
// is called first; stop reports whether it prevented the call. It is
// context.AfterFunc, without its allocations for an exchange's context;
// nil for a context that never ends. It asks no context for its Done
// channel, which a connection's context makes only for who asks.
func watchContext(ctx context.Context, abort func()) (stop func() bool) {
	ec, ok := ctx.(*exchangeCtx)
	switch {
	case ok && ec.x.ctx == ec:
		if neverEnds(ec.Context) {
			return nil
		}
		return ec.x.watch.set(ec.Context, abort)
	case !ok && neverEnds(ctx):
		return nil
	}
	return afterFunc(ctx, abort)
}

// neverEnds reports whether ctx can never be done: it has no Done
// channel, and no AfterFunc that would run without one.
func neverEnds(ctx context.Context) bool {
	if _, ok := ctx.(afterFuncer); ok {
		return false
	}
	return ctx.Done() == nil
}

func (w *ctxWatch) set(parent context.Context, abort func()) func() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.parent != parent {
		w.unregister()
		if w.fireFn == nil {
			w.fireFn, w.stopFn = w.fire, w.stop
		}
		w.parent, w.fired = parent, false
		w.register(parent)
	}
	if w.fired {
		// The registration has run: what it would call, the parent's
		// end calls now.
		return afterFunc(parent, abort)
	}
	w.abort, w.pending = abort, true
	return w.stopFn
}

// register has the parent's end call fire: directly if it can take the
// watch itself, else through AfterFunc.
func (w *ctxWatch) register(parent context.Context) {
	if wp, ok := parent.(watchable); ok {
		wp.Watch(w)
		w.watched = wp
		return
	}
	w.unreg = afterFunc(parent, w.fireFn)
}

// ContextDone is the watchable parent's call when it ends.
func (w *ctxWatch) ContextDone() { w.fire() }

func (w *ctxWatch) fire() {
	w.mu.Lock()
	abort, pending := w.abort, w.pending
	w.abort, w.pending, w.fired = nil, false, true
	w.mu.Unlock()
	if pending {
		abort()
	}
}

func (w *ctxWatch) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	stopped := w.pending
	w.abort, w.pending = nil, false
	return stopped
}

// release ends the registration, which would keep the exchange alive
// for as long as its connection. It reports false when the parent ended
// and its call of fire has not run yet: a goroutine not yet scheduled
// may still call it, so w must not serve another connection.
func (w *ctxWatch) release() (settled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	settled = w.unregister() || w.fired
	w.parent, w.abort, w.pending = nil, nil, false
	return settled
}

// unregister ends the registration; it reports whether that kept fire
// from being called (true with no registration).
func (w *ctxWatch) unregister() bool {
	kept := true
	if w.unreg != nil {
		kept = w.unreg()
		w.unreg = nil
	}
	if w.watched != nil {
		kept = w.watched.Unwatch(w)
		w.watched = nil
	}
	return kept
}
