package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// attempt is a request sent upstream and its answer.
type attempt struct {
	up   *upstream
	out  *http.Request
	req  *Request       // out's head, as the phases left it
	resp *http.Response // its Header is nil: head has the fields
	head *Response      // what the phases see and the client gets
	body *requestBody   // nil without a request body
	peer *Peer          // as UpstreamPeer chose it (up.peer is whichever peer opened the pool)
	// cancel ends the attempt's context (Session.AttemptTimeout).
	cancel context.CancelFunc
}

// try sends the request to peer once. The attempt is returned by value so
// that it lives on the caller's stack rather than the heap. The wait for
// response headers is bounded by the client (the HTTP/1.1 client's read
// deadline, h2Client's timer for HTTP/2, both counted once
// the request is written, so a slow upload is not a slow upstream); that
// costs no context or timer per request.
func (p *Proxy[C]) try(s *Session, peer *Peer, body *requestBody, ctx C) (attempt, error) {
	up, err := p.peers.getAt(peer, s.Start)
	if err != nil {
		return attempt{}, err
	}
	actx, cancel := s.attemptContext()
	if s.x != nil {
		s.x.lend = s.x.local && s.Attempt <= 1 && ownH1(up)
	}
	out, head := p.newUpstreamRequest(s, peer, body, actx)
	if err := p.phases.UpstreamRequestFilter(s, head, ctx); err != nil {
		cancel()
		return attempt{}, err
	}
	rt := up.transportFor(head.Header.upgradeType() != "")
	if _, h1 := rt.(*h1Client); !h1 && s.x != nil && (s.x.lend || body == &s.x.body) {
		s.x.reusable = false // other transports may hold the request or its body after the exchange
	}
	resp, rhead, err := roundTripHead(rt, out, head)
	if err != nil {
		cancel()
		if terr := timedOut(s, out); terr != nil {
			return attempt{}, terr
		}
		return attempt{}, p.classify(s.Request, up, body, err)
	}
	return attempt{up: up, out: out, req: head, resp: resp, head: rhead, body: body, peer: peer, cancel: cancel}, nil
}

// ownH1 reports whether up's ordinary requests go to the proxy's own
// HTTP/1 client, which is done with a request when its response is: the
// exchange's storage may be lent to such an attempt (see exchange.lend).
func ownH1(up *upstream) bool {
	_, ok := up.rt.(*h1Client)
	return ok
}

// finish releases what an attempt holds once the response is done.
func (p *Proxy[C]) finish(a *attempt) {
	a.resp.Body.Close()
	a.cancel()
	p.peers.release(a.up)
}

func noCancel() {}

// context is the request's context, bounded by Deadline when set.
func (s *Session) context() context.Context {
	if s.ctx != nil {
		return s.ctx
	}
	return s.Request.Context()
}

// expired reports whether the Deadline passed.
func (s *Session) expired() bool { return s.ctx != nil && s.ctx.Err() != nil }

// attemptContext is the context of one attempt: the request's, bounded by
// AttemptTimeout when set. Without timeouts it costs nothing.
func (s *Session) attemptContext() (context.Context, context.CancelFunc) {
	if s.AttemptTimeout > 0 {
		return context.WithTimeout(s.context(), s.AttemptTimeout)
	}
	return s.context(), noCancel
}

// timedOut is the 504 of an attempt cut by the Deadline or AttemptTimeout,
// nil if it was not: a client that left, or a body it failed to send,
// comes first.
func timedOut(s *Session, out *http.Request) error {
	if s.Request.Context().Err() != nil || s.body.fault() != nil || out.Context().Err() != context.DeadlineExceeded {
		return nil
	}
	if s.expired() {
		return routeTimeout(s)
	}
	return &Error{Status: http.StatusGatewayTimeout, Reason: "upstream " + s.Peer.Address + " did not answer within " + s.AttemptTimeout.String(), Err: context.DeadlineExceeded}
}

// routeTimeout is the 504 of a request past its Deadline.
func routeTimeout(s *Session) error {
	return &Error{Status: http.StatusGatewayTimeout, Reason: "request did not complete within its timeout of " + s.Deadline.Sub(s.Start).Round(time.Millisecond).String(), Err: context.DeadlineExceeded}
}

// classify turns a failed round trip into the error that answers it.
// Connect failures stay *connectError so that the caller may retry.
func (p *Proxy[C]) classify(in *http.Request, up *upstream, body *requestBody, err error) error {
	if fault := body.fault(); fault != nil {
		return fault // the client's failure cut the request (and, in HTTP/1, cancelled its context)
	}
	if cerr := in.Context().Err(); cerr != nil {
		return clientGone(cerr)
	}
	if ce, ok := errors.AsType[*connectError](err); ok {
		return ce
	}
	// Connect timeouts are connectErrors, so a timeout here is the
	// response timeout (HTTP/1.1 and HTTP/2 alike).
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return &Error{Status: http.StatusGatewayTimeout, Reason: "upstream " + up.peer.Address + " sent no response headers within " + up.key.responseTimeout.String(), Err: err}
	}
	if safeToRepeat(in) {
		return &resetError{err: err}
	}
	return &Error{Status: http.StatusBadGateway, Reason: "upstream " + up.peer.Address + " failed", Err: err}
}

// requestBody lets the downstream body survive a failed connect: the
// transports close a request's body when its round trip fails, but
// nothing was read then, and the next attempt still needs it.
//
// It also enforces the client's side of the upload: each read must make
// progress within the client body timeout, and the body may not grow
// beyond the size limit. Either failure cuts the upstream request (the
// transport sees a read error and abandons it) and is kept for classify.
type requestBody struct {
	rc    io.ReadCloser
	read  atomic.Bool
	limit int64        // negative: none
	n     atomic.Int64 // bytes read so far: the limit, and the access log
	idle  time.Duration
	// dog is not pooled: the transport may still read or close the body
	// after the exchange is over, so nobody knows when it is free again.
	dog      watchdog
	tooLarge atomic.Bool
	// replay keeps the body for a retry by status (Session.Retry); nil
	// when no retry could use it.
	replay *replayBuffer
}

// maxReplayBytes is the largest request body kept for a retry by status;
// a larger one streams through and its request is not retried.
const maxReplayBytes = 64 << 10

// replayBuffer is a copy of a request body as the first attempt read it.
// buf is complete, and read by nobody but the transport before, once
// done is set: an upstream may answer before it read the whole body.
type replayBuffer struct {
	buf      []byte
	declared int64 // the Content-Length, -1 for none
	overflow bool
	done     atomic.Bool
}

// keepForReplay makes b keep what it reads, up to maxReplayBytes, so that
// a retry by status can send it again; bodies declared larger are not kept.
func (b *requestBody) keepForReplay(declared int64) {
	if b != nil && declared <= maxReplayBytes {
		b.replay = &replayBuffer{declared: declared}
	}
}

// record keeps what a read returned. The body is whole at its EOF, or
// once its declared length is in: a transport that sends a length-framed
// body stops reading there, and the HTTP/1 server's body reports EOF only
// on the read after the last byte (net/http's with the last byte).
func (r *replayBuffer) record(p []byte, err error) {
	if r.overflow || r.done.Load() {
		return
	}
	if len(r.buf)+len(p) > maxReplayBytes {
		r.overflow, r.buf = true, nil
		return
	}
	r.buf = append(r.buf, p...)
	if err == io.EOF || int64(len(r.buf)) == r.declared {
		r.done.Store(true)
	}
}

// replayable reports whether the whole body was read and kept (always
// true without a body).
func (b *requestBody) replayable() bool {
	return b == nil || b.replay != nil && b.replay.done.Load() && !b.replay.overflow
}

// forAttempt is the body of attempt n: the client's stream first, then
// the kept copy.
func (b *requestBody) forAttempt(n int) io.ReadCloser {
	if n > 1 && b.replay != nil && b.replay.done.Load() {
		r := &replayedBody{}
		r.Reset(b.replay.buf)
		return r
	}
	return b
}

// replayedBody is the kept copy of a body, sent again.
type replayedBody struct{ bytes.Reader }

func (*replayedBody) Close() error   { return nil }
func (*replayedBody) Buffered() bool { return true }

// bufferedBody is a request body that tells whether the rest of it is in
// memory, so that reading it to its end cannot wait for the client: the
// HTTP/1 server's body, a replayed one. The HTTP/1 client then sends a
// small one with its head in one write (see inlinesBody).
type bufferedBody interface{ Buffered() bool }

// Buffered reports whether the rest of the body can be read without
// waiting for the client (see bufferedBody).
func (b *requestBody) Buffered() bool {
	bb, ok := b.rc.(bufferedBody)
	return ok && bb.Buffered()
}

// errBodyTooLarge ends the upstream request's body; classify turns it
// into 413.
var errBodyTooLarge = errors.New("request body too large")

// newRequestBody wraps the request's body, nil if it has none; x, if not
// nil, is the exchange whose wrapper (and watchdog timer) it reuses.
func newRequestBody(in *http.Request, rw http.ResponseWriter, o *Options, x *exchange) *requestBody {
	if in.Body == nil || in.Body == http.NoBody || in.ContentLength == 0 {
		return nil
	}
	var b *requestBody
	if x != nil && x.local {
		b = &x.body
		b.read.Store(false)
		b.n.Store(0)
		b.tooLarge.Store(false)
		b.replay = nil
	} else {
		b = new(requestBody)
	}
	b.rc, b.limit, b.idle = in.Body, o.MaxRequestBodyBytes, o.ClientBodyTimeout
	if b.idle > 0 {
		if b.dog.timer == nil {
			b.dog.init()
		}
		b.dog.mu.Lock()
		b.dog.rw, b.dog.expired = rw, noStall
		b.dog.mu.Unlock()
	}
	return b
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	if b.idle > 0 {
		b.dog.watch(clientBody, b.idle)
	}
	n, err := b.rc.Read(p)
	if b.idle > 0 {
		// Between reads the transport may wait for the upstream to take
		// what it has: that is not the client's time.
		b.dog.rest()
	}
	return b.count(p[:n], err)
}

// readBuffered fills p from a body that said it is Buffered: reading it
// cannot stall, so no watchdog watches it (a clock read and two locks).
func (b *requestBody) readBuffered(p []byte) (int, error) {
	b.read.Store(true)
	n, err := io.ReadFull(b.rc, p)
	return b.count(p[:n], err)
}

// count adds what a read got to the body's size, which the limit bounds,
// and to the copy kept for a retry.
func (b *requestBody) count(got []byte, err error) (int, error) {
	total := b.n.Add(int64(len(got)))
	if b.replay != nil {
		b.replay.record(got, err)
	}
	if b.limit >= 0 && total > b.limit {
		b.tooLarge.Store(true)
		return 0, errBodyTooLarge // not one byte beyond the limit
	}
	return len(got), err
}

// Close closes the downstream body only once an attempt has used it; a
// transport closes it then to unblock a Read it no longer needs.
func (b *requestBody) Close() error {
	if b.read.Load() {
		return b.rc.Close()
	}
	return nil
}

// fault is the client's failure that ended the upload, nil if none did.
// It matches context.Canceled: a slow or oversized upload says nothing
// about the upstream's health.
func (b *requestBody) fault() error {
	switch {
	case b == nil:
		return nil
	case b.tooLarge.Load():
		return tooLarge(b.limit)
	case b.idle > 0 && b.dog.expiredOn() == clientBody:
		return clientFault(http.StatusRequestTimeout, "client sent no request body bytes for "+b.idle.String(), os.ErrDeadlineExceeded)
	}
	return nil
}

// done stops the timer of an exchange that is over. It reports whether
// the watchdog broke a stall, in which case its timer's function may
// still be running, and the body may not be reused.
func (b *requestBody) done() (stalled bool) {
	if b != nil && b.idle > 0 {
		b.dog.rest()
		b.dog.timer.Stop()
		b.dog.mu.Lock()
		// The timer is stopped, and so must be started again by the next
		// watch: a wake left set made the next request's watch (its
		// deadline later) leave it stopped, and its body unwatched.
		b.dog.wake = 0
		b.dog.mu.Unlock()
		return b.dog.expiredOn() != noStall
	}
	return false
}

// started reports whether any attempt has begun sending the body.
func (b *requestBody) started() bool { return b != nil && b.read.Load() }

// newUpstreamRequest derives the request sent to peer from the downstream
// one: the transport's request (context, body, framing) and the head the
// phases see and edit.
func (p *Proxy[C]) newUpstreamRequest(s *Session, peer *Peer, body *requestBody, ctx context.Context) (*http.Request, *Request) {
	in := s.Request
	var out *http.Request
	if s.x != nil {
		out = s.x.upstreamRequest(s, ctx)
	}
	if out == nil {
		out = in.WithContext(ctx) // one shallow copy; every field that matters is reset below
	} else {
		copyRequestFields(out, in)
	}
	if s.Attempt <= 1 {
		// The first attempt's URL lives in the Session; a retry gets one
		// of its own, as a transport may still hold the previous request.
		s.upstreamURL = upstreamURL(in.URL, peer)
		out.URL = &s.upstreamURL
	} else {
		u := upstreamURL(in.URL, peer)
		out.URL = &u
	}
	out.Header = nil // the head's fields (see roundTripHead)
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.Body, out.GetBody, out.ContentLength = nil, nil, 0
	if body != nil {
		out.Body, out.ContentLength = body.forAttempt(s.Attempt), in.ContentLength
	}
	out.TransferEncoding = nil
	out.Close = false // the downstream connection's fate is not the upstream's
	out.RequestURI = ""
	out.Form, out.PostForm, out.MultipartForm = nil, nil, nil
	out.TLS, out.Response, out.Pattern = nil, nil, ""
	head := s.x.upstreamHead(s.RequestHeader().Len())
	head.Method, head.URL, head.Host, head.body = in.Method, out.URL, in.Host, body != nil
	p.upstreamFields(s, peer.Scheme, &head.Header)
	return out, head
}

// copyRequestFields copies what WithContext would into out, the
// exchange's request: the exported fields of in (newUpstreamRequest
// resets most of them anyway).
func copyRequestFields(out, in *http.Request) {
	out.Method, out.URL, out.Proto, out.ProtoMajor, out.ProtoMinor = in.Method, in.URL, in.Proto, in.ProtoMajor, in.ProtoMinor
	out.Header, out.Body, out.GetBody, out.ContentLength = in.Header, in.Body, in.GetBody, in.ContentLength
	out.TransferEncoding, out.Close, out.Host, out.Trailer = in.TransferEncoding, in.Close, in.Host, in.Trailer
	out.RemoteAddr, out.RequestURI, out.TLS, out.Response, out.Pattern = in.RemoteAddr, in.RequestURI, in.TLS, in.Response, in.Pattern
	out.Form, out.PostForm, out.MultipartForm = in.Form, in.PostForm, in.MultipartForm
	out.Cancel = in.Cancel //nolint:staticcheck // copied as WithContext does
}

func upstreamURL(in *url.URL, peer *Peer) url.URL {
	u := url.URL{Scheme: "http", Host: peer.Address, Path: in.Path, RawPath: in.RawPath, RawQuery: in.RawQuery}
	if peer.Scheme == SchemeHTTPS {
		u.Scheme = "https"
	}
	switch u.Path {
	case "":
		u.Path = "/"
	case "*": // OPTIONS *; Opaque keeps the asterisk from being escaped
		u.Path, u.RawPath, u.Opaque = "", "", "*"
	}
	return u
}

// forwardedUpgrade is the Upgrade offer of a request as sent to a peer of
// scheme, and the HTTP2-Settings of an h2c offer. The upgrade is tunnelled,
// so the HTTP2-Settings that go with h2c are forwarded although the
// Connection field names them. Peers spoken to in HTTP/2 get no h2c offer,
// which a server may ignore anyway (RFC 9110 §7.8): h2c means nothing over
// TLS, and an H2C peer need not speak HTTP/1.1 at all.
func forwardedUpgrade(in *RequestHeader, scheme Scheme) (upgrade, settings bool) {
	if in.h.upgradeType() == "" {
		return false, false
	}
	if !in.h.hasToken("Upgrade", "h2c") {
		return true, false
	}
	if scheme != SchemeHTTP1 {
		return false, false
	}
	return true, in.Has("Http2-Settings")
}

// hopHeaders are meaningful for one connection only (RFC 9110 §7.6.1, plus
// the proxy authentication fields and Trailer, which the proxy re-declares).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// namedIn reports whether key is one of options, in any case.
func namedIn(options []string, key string) bool {
	for _, o := range options {
		if len(o) == len(key) && strings.EqualFold(o, key) {
			return true
		}
	}
	return false
}

// upgradeType is the protocol a request switches to, if any.
func upgradeType(h http.Header) string {
	if !headerHasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
