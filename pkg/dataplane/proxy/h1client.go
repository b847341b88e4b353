package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// h1Client is the HTTP/1.1 client for one peer: an http.RoundTripper that
// the requesting goroutine drives itself. Unlike http.Transport it has no
// read-loop or write-loop goroutine per connection and no channels between
// them: the request is written, and the response read, by the caller, and
// the response body reads straight from the connection, which goes back to
// the idle pool when the body ends cleanly and is closed otherwise.
type h1Client struct {
	dial            func(context.Context) (net.Conn, error) // failures are *connectError
	responseTimeout time.Duration                           // for the response head, once the request is written
	idleTimeout     time.Duration
	staleCheckAfter time.Duration // see closedByPeer
	maxIdle         int
	// spareH2 takes a connection whose peer chose h2 by ALPN; nil closes it.
	spareH2 func(*tls.Conn)

	mu    sync.Mutex
	idle  []*h1Conn // oldest first; the newest is reused first
	sweep *time.Timer
	armed bool // sweep is scheduled
}

var _ http.RoundTripper = (*h1Client)(nil)

// errPeerSpeaksH2 is what an HTTPS client dialing with ALPN h2 and
// http/1.1 gets when the peer chose h2: nothing of the request was sent.
var errPeerSpeaksH2 = errors.New("peer chose h2 by ALPN")

func newH1Client(dial func(context.Context) (net.Conn, error), k peerKey, o Options) *h1Client {
	c := &h1Client{dial: dial, responseTimeout: k.responseTimeout, idleTimeout: k.idleTimeout,
		staleCheckAfter: staleCheckAfter, maxIdle: o.MaxIdleConnsPerPeer}
	c.sweep = time.AfterFunc(time.Hour, c.closeExpired)
	c.sweep.Stop()
	return c
}

// RoundTrip sends req on a pooled or new connection, and gives the
// response a header map of its own (see roundTripHead).
func (c *h1Client) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, head, err := c.roundTripHead(req, requestOf(req))
	if err != nil {
		return nil, err
	}
	resp.Header = head.Header.Clone()
	return resp, nil
}

// roundTripHead is RoundTrip for the proxy's own attempts: the request's
// head is out (req's Method, URL, Host and Header are not read), and the
// response's fields are in head, as received, and its Header is nil. A pooled
// connection that turns out to be dead before any response byte came is
// replaced by a new one once, when the request may be sent again (see
// h1Conn.roundTrip).
func (c *h1Client) roundTripHead(req *http.Request, out *Request) (*http.Response, *Response, error) {
	fresh := false
	repeatable := safeToRepeat(req) && (req.Body == nil || req.Body == http.NoBody)
	var resend []byte // a body the failed attempt read, and did not send
	for {
		pc, err := c.conn(req.Context(), fresh, repeatable)
		if err != nil {
			closeRequestBody(req)
			return nil, nil, err
		}
		resp, head, retry, err := pc.roundTrip(req, out, resend)
		if err == nil {
			return resp, head, nil
		}
		pc.close()
		if !retry || fresh {
			closeRequestBody(req)
			return nil, nil, err
		}
		fresh, resend = true, pc.inlined // pc is closed: its buffer is nobody else's
	}
}

// headRoundTripper is a transport that gives the proxy a response's
// fields without a header map (see h1Client.roundTripHead).
type headRoundTripper interface {
	roundTripHead(req *http.Request, out *Request) (*http.Response, *Response, error)
}

// roundTripHead sends req, whose head out has, by rt, with the response's
// fields as the phases see them: a map's are copied into a list of their
// own. A transport that takes a header map gets req with one made from
// out's fields.
func roundTripHead(rt http.RoundTripper, req *http.Request, out *Request) (*http.Response, *Response, error) {
	ht, ok := rt.(headRoundTripper)
	out.toHTTP(req, !ok)
	if ok {
		return ht.roundTripHead(req, out)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	return resp, &Response{StatusCode: resp.StatusCode, Header: headerOfMap(resp.Header)}, nil
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// conn takes the newest live idle connection, or dials a new one.
// repeatable tells that the request may go again on a new connection if
// the pooled one turns out dead (see closedByPeer).
func (c *h1Client) conn(ctx context.Context, fresh, repeatable bool) (*h1Conn, error) {
	if !fresh {
		if pc := c.takeIdle(repeatable); pc != nil {
			return pc, nil
		}
	}
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
		if c.spareH2 != nil {
			c.spareH2(tc)
		} else {
			nc.Close()
		}
		return nil, errPeerSpeaksH2
	}
	return newH1Conn(c, nc), nil
}

// takeIdle pops idle connections, newest first, until one is neither past
// the idle timeout nor closed by the peer while it waited.
func (c *h1Client) takeIdle(repeatable bool) *h1Conn {
	now := monoclock.Nanos()
	for {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			return nil
		}
		pc := c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if time.Duration(now-pc.idleSince) < c.idleTimeout && !pc.closedByPeer(now, repeatable) {
			pc.takenAt = now
			return pc
		}
		pc.close()
	}
}

// put returns a connection whose exchange finished cleanly to the pool.
func (c *h1Client) put(pc *h1Conn) { c.putAt(pc, 0) }

// putAt is put with the clock read at now (monoclock.Nanos), 0 if unread.
func (c *h1Client) putAt(pc *h1Conn, now int64) {
	if now == 0 {
		now = monoclock.Nanos()
	}
	pc.trim()
	pc.idleSince, pc.takenAt = now, 0
	pc.reused = true
	c.mu.Lock()
	if len(c.idle) >= c.maxIdle {
		c.mu.Unlock()
		pc.close()
		return
	}
	c.idle = append(c.idle, pc)
	if !c.armed {
		c.armed = true
		c.sweep.Reset(c.idleTimeout)
	}
	c.mu.Unlock()
}

// closeExpired closes the connections idle for longer than the idle
// timeout and schedules itself for the next one to expire. One timer per
// peer, not one per connection.
func (c *h1Client) closeExpired() {
	now := monoclock.Nanos()
	c.mu.Lock()
	n := 0
	for n < len(c.idle) && time.Duration(now-c.idle[n].idleSince) >= c.idleTimeout {
		n++
	}
	expired := append([]*h1Conn(nil), c.idle[:n]...)
	c.idle = append(c.idle[:0], c.idle[n:]...)
	clear(c.idle[len(c.idle):cap(c.idle)])
	c.armed = len(c.idle) > 0
	if c.armed {
		c.sweep.Reset(c.idleTimeout - time.Duration(now-c.idle[0].idleSince))
	}
	c.mu.Unlock()
	for _, pc := range expired {
		pc.close()
	}
}

// CloseIdleConnections closes every idle connection; those in use are
// unaffected.
func (c *h1Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// alpnSwitch serves an HTTPS peer: by this HTTP/1.1 client while the peer
// chooses http/1.1 by ALPN, by x/net/http2's once it chooses h2. The
// switch is learned from the handshakes, in both directions, so a peer
// replaced by one that speaks the other protocol is followed. A
// connection of the wrong protocol is not wasted: the h2 client's next
// dial takes the h2 connection the HTTP/1.1 client learned it from, and
// the HTTP/1.1 client's pool the http/1.1 one the h2 client got.
type alpnSwitch struct {
	h1 *h1Client
	h2 *h2Client
	// peerH2 is set when a handshake of h1 got h2, and cleared when a
	// handshake of h2 got http/1.1.
	peerH2 atomic.Bool
	spare  atomic.Pointer[tls.Conn]
}

// errPeerSpeaksH1 is what the h2 client of an alpnSwitch gets when the
// peer chose http/1.1 by ALPN: nothing of the request was sent.
var errPeerSpeaksH1 = errors.New("peer chose http/1.1 by ALPN")

// newALPNSwitch dials with dial, which offers both protocols.
func newALPNSwitch(h1 *h1Client, k peerKey, dial func(context.Context, string, string) (net.Conn, error)) *alpnSwitch {
	s := &alpnSwitch{h1: h1}
	s.h2 = newH2Client(k, s.dialH2(dial))
	h1.spareH2 = s.keepSpare
	return s
}

// RoundTrip follows the peer's choice (see roundTripHead).
func (s *alpnSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, head, err := s.roundTripHead(req, requestOf(req))
	if err == nil && resp.Header == nil {
		resp.Header = head.Header.Clone()
	}
	return resp, err
}

// roundTripHead follows the peer's choice; a peer that changes it twice
// within one request gets its error.
func (s *alpnSwitch) roundTripHead(req *http.Request, out *Request) (resp *http.Response, head *Response, err error) {
	for range 2 {
		if !s.peerH2.Load() {
			resp, head, err = s.h1.roundTripHead(req, out)
			if !errors.Is(err, errPeerSpeaksH2) {
				return resp, head, err
			}
			// Nothing was sent, and the body, if any, was not read.
			s.peerH2.Store(true)
		}
		resp, head, err = roundTripHead(s.h2, req, out)
		if !errors.Is(err, errPeerSpeaksH1) {
			return resp, head, err
		}
	}
	return nil, nil, err
}

func (s *alpnSwitch) keepSpare(c *tls.Conn) {
	if old := s.spare.Swap(c); old != nil {
		old.Close()
	}
}

// CloseIdleConnections closes both clients' idle connections and the spare.
func (s *alpnSwitch) CloseIdleConnections() {
	s.h1.CloseIdleConnections()
	s.h2.CloseIdleConnections()
	if c := s.spare.Swap(nil); c != nil {
		c.Close()
	}
}

// dialH2 is the h2 client's dial: the spare connection if there is one,
// else a new one; one on which the peer went back to http/1.1 goes to the
// HTTP/1.1 client's pool instead.
func (s *alpnSwitch) dialH2(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if c := s.spare.Swap(nil); c != nil {
			return c, nil
		}
		conn, err := dial(ctx, network, addr)
		if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol != "h2" {
			s.peerH2.Store(false)
			s.h1.put(newH1Conn(s.h1, tc))
			return nil, errPeerSpeaksH1
		}
		return conn, err
	}
}
