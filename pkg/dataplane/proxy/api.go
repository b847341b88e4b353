package proxy

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// StatusClientClosedRequest is the status recorded in Session.Status when
// the downstream client went away before it got a response (nginx's 499).
// It is never sent.
const StatusClientClosedRequest = 499

// Scheme is how the proxy talks to a peer.
type Scheme uint8

const (
	SchemeHTTP1 Scheme = iota // cleartext HTTP/1.1
	SchemeH2C                 // cleartext HTTP/2 with prior knowledge
	SchemeHTTPS               // TLS, HTTP/2 or HTTP/1.1 by ALPN
)

// Peer is the upstream a request is sent to. Connections are pooled by
// the peer's identity: Address, Scheme, SNI, InsecureSkipVerify and RootCAs,
// and by the settings ConnectTimeout, ResponseTimeout and IdleTimeout, which
// the pooled transports enforce (two peers that differ only there cannot
// share a pool configured for one of them).
type Peer struct {
	Address            string // "ip:port"
	Scheme             Scheme
	SNI                string // TLS server name; empty means the host of Address; an IP is verified, not sent
	InsecureSkipVerify bool
	RootCAs            *x509.CertPool // nil means system roots
	ConnectTimeout     time.Duration  // zero means Options.ConnectTimeout
	ResponseTimeout    time.Duration  // wait for response headers once the request is sent; zero means Options
	IdleTimeout        time.Duration  // pooled idle connection lifetime; zero means Options
	// ReadTimeout bounds each read of the response body, and the quiet time
	// of a tunnel; zero means Options.ReadTimeout and, for tunnels,
	// Options.TunnelIdleTimeout. It is not enforced by the pooled
	// transports, so it does not split the pool.
	ReadTimeout time.Duration
}

// Session is one downstream request as the phases see it.
//
// A Session, the upstream request and response the phases are given,
// and the strings they hold (RequestID, the upstream response's field
// names and values) are valid until Logging returns: over HTTP/1 the
// proxy reuses their memory for the connection's next request, which is
// how a request costs no allocation. What outlives the request (a
// mirror, a value kept in a cache) must copy what it keeps: Header.Clone,
// and strings.Clone for those strings. Only RoundTrip may be called later.
type Session struct {
	// Request is the downstream request. Phases may read it, not change
	// it: the upstream request is made from the head as received (over
	// HTTP/1, not from Request.Header), and UpstreamRequestFilter is
	// where it is edited. Its fields are best read from RequestHeader:
	// over HTTP/1 Request.Header is nil for phases that say they do not
	// read it (see HeaderMapReader).
	Request *http.Request
	// Writer lets RequestFilter answer the request itself.
	Writer http.ResponseWriter
	// Attempt counts upstream attempts, starting at 1.
	Attempt int
	// Status is the status sent downstream, once known (for Logging).
	Status int
	// BytesSent counts response body bytes written downstream.
	BytesSent int64
	// Start is when the request was received.
	Start time.Time
	// Peer is the peer of the latest attempt, nil before UpstreamPeer.
	Peer *Peer
	// ClientAddr is the client's address, for logs, metrics and policy:
	// the connection's peer (the address a PROXY protocol header carried,
	// when the listener speaks it) or, when that peer is one of
	// Options.TrustedProxies, the client it forwarded for (X-Forwarded-For
	// read from the right, skipping trusted proxies). It is set before
	// RequestFilter; invalid if the peer has no IP address.
	ClientAddr netip.Addr
	// RequestID identifies the request in logs and upstream: the client's
	// X-Request-Id when it is valid (1 to 128 visible ASCII characters),
	// else one generated here. It is sent upstream in X-Request-Id.
	RequestID string

	// Deadline, when RequestFilter sets it, bounds the whole request:
	// every attempt, the waits between them and the response body. Past it
	// the client gets 504, or an aborted response once it has started.
	Deadline time.Time
	// AttemptTimeout, when RequestFilter sets it, bounds each attempt from
	// sending the request to the end of its response body: 504 when the
	// response headers are not there in time.
	AttemptTimeout time.Duration
	// Retry, when RequestFilter sets it, retries responses by status.
	Retry *RetryPolicy

	origin         origin
	sentAt         int64          // when (monoclock.Nanos) the response was handed over whole; 0 if unread (see Elapsed)
	peerAddr       peerAddr       // kept across the requests of a connection
	generatedID    string         // RequestID when generated; empty if the client's is kept
	idReplaced     bool           // the client sent an X-Request-Id the generated one replaces
	requestIDBytes [32]byte       // what a generated RequestID reads
	upstreamURL    url.URL        // the first attempt's URL (see newUpstreamRequest)
	body           *requestBody   // nil without a request body
	reqHeader      RequestHeader  // see RequestHeader
	reqHeaderSet   bool           // reqHeader is this request's
	mapView        []h1.HeadField // reqHeader's storage when made from Request.Header

	ctx context.Context // Request's, with Deadline; nil without one
	x   *exchange       // what the request may reuse; nil outside ServeHTTP
	// peers is set once: RoundTrip may read it after the Session ended,
	// while the Session is reset for the connection's next request.
	peers *peerPool
}

// BytesReceived counts request body bytes read from the client so far.
func (s *Session) BytesReceived() int64 {
	if s.body == nil {
		return 0
	}
	return s.body.n.Load()
}

// RetryPolicy retries an attempt whose response status is one of
// Statuses (an attempt past Session.AttemptTimeout or the peer's response
// timeout counts as 504) on a new UpstreamPeer, Backoff later, up to
// Attempts attempts in all. A request body is kept for the retries when
// it is at most 64 KiB and the upstream read all of it; else the request
// is not retried, as its body streamed and is gone. FailToConnect is
// told first, with a *StatusRetry, and may refuse.
type RetryPolicy struct {
	Attempts int
	Statuses []int
	Backoff  time.Duration
}

// StatusRetry is what FailToConnect is told when an attempt is to be
// retried for its response status; the response was discarded. TimedOut
// says there was no response: the attempt ran out of time (Status 504).
type StatusRetry struct {
	Status   int
	TimedOut bool
}

func (e *StatusRetry) Error() string { return "upstream answered " + strconv.Itoa(e.Status) }

// RoundTrip sends req to peer over the proxy's pooled connections, outside
// the proxying of s: it is for phases that copy a request elsewhere (a
// mirror), and may be called after s ended. The caller closes the body.
func (s *Session) RoundTrip(peer *Peer, req *http.Request) (*http.Response, error) {
	up, err := s.peers.get(peer)
	if err != nil {
		return nil, err
	}
	resp, err := up.transportFor(upgradeType(req.Header) != "").RoundTrip(req)
	if err != nil {
		s.peers.release(up)
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, pool: s.peers, up: up}
	return resp, nil
}

// releasingBody tells the pool the request is done once its body is closed.
type releasingBody struct {
	io.ReadCloser
	pool *peerPool
	up   *upstream
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.pool.release(b.up)
	return err
}

// Phases are the user-overridable steps of proxying one request. C is the
// per-request context type, created by NewCtx for each request.
type Phases[C any] interface {
	// NewCtx returns the context shared by all phases of one request.
	NewCtx() C
	// RequestFilter runs first. Returning handled=true means the phase wrote
	// the whole response itself and proxying stops.
	RequestFilter(s *Session, ctx C) (handled bool, err error)
	// UpstreamPeer chooses where to send the request. It is called again for
	// each retry. An error of type *Error is sent downstream with its status.
	UpstreamPeer(s *Session, ctx C) (*Peer, error)
	// UpstreamRequestFilter may edit the request about to be sent
	// upstream: method, target, Host and fields. Over HTTP/1 its Header
	// is the client's fields as received, in order, but the hop-by-hop
	// ones, then the forwarding fields; the proxy's HTTP/1 client writes
	// that very list. It runs again for each attempt, on a new Request.
	UpstreamRequestFilter(s *Session, upstream *Request, ctx C) error
	// FailToConnect is told that connecting to peer failed (nothing was
	// sent), or that a request safe to repeat (GET, HEAD, OPTIONS, TRACE
	// without a body) got no response from it, or (err is a *StatusRetry)
	// that Session.Retry asks for another attempt; returning true retries
	// with a new UpstreamPeer call.
	FailToConnect(s *Session, peer *Peer, err error, ctx C) (retry bool)
	// ResponseFilter may edit the upstream response's status and fields
	// before they are sent downstream (the hop-by-hop fields are removed
	// after it). Its Header is the fields as received, in order; over
	// HTTP/1 the server writes that very list.
	ResponseFilter(s *Session, upstream *Response, ctx C) error
	// Logging runs last, once per request, with the error that ended the
	// request, if any. Errors caused by the downstream client going away
	// match errors.Is(err, context.Canceled); they say nothing about the
	// upstream's health.
	Logging(s *Session, err error, ctx C)
}

// Error is an error with the HTTP status the proxy should answer with.
type Error struct {
	Status int
	Reason string
	Err    error
}

func (e *Error) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.Status)
	}
	if e.Err != nil {
		return reason + ": " + e.Err.Error()
	}
	return reason
}

func (e *Error) Unwrap() error { return e.Err }
