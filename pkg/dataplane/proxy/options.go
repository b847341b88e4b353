package proxy

import (
	"log/slog"
	"net/netip"
	"time"
)

// Defaults New fills in for zero Options fields.
const (
	DefaultConnectTimeout      = 5 * time.Second
	DefaultResponseTimeout     = 60 * time.Second
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultMaxIdleConnsPerPeer = 256 // see Options.MaxIdleConnsPerPeer
	// DefaultMaxAttempts is only a safety cap: the phases own the retry
	// budget (an Upstream's spec.retries), and this stops a phase that never
	// says stop. It is one first attempt plus the largest spec.retries the
	// Upstream CRD accepts (10); anything lower would silently cut an
	// Upstream's retries short.
	DefaultMaxAttempts = 1 + 10
	DefaultMaxPeers    = 1024
	// nginx's defaults for client_body_timeout, send_timeout and
	// proxy_read_timeout.
	DefaultClientBodyTimeout = 60 * time.Second
	DefaultSendTimeout       = 60 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	// DefaultTunnelIdleTimeout is Envoy's stream idle timeout. A tunnel
	// (WebSocket) is often quiet for longer than an HTTP response may
	// be, which is why it does not take DefaultReadTimeout (nginx closes
	// WebSockets after 60 quiet seconds, a well-known surprise).
	DefaultTunnelIdleTimeout = 5 * time.Minute
	// DefaultMaxRequestBodyBytes only bounds what one request may push
	// at a backend: bodies stream through, never buffered, so memory is
	// not at stake. nginx's 1 MiB refuses ordinary uploads.
	DefaultMaxRequestBodyBytes = 1 << 30
)

// Options tune a Proxy. Per-peer timeouts in Peer override the first three.
type Options struct {
	// ConnectTimeout bounds dialing a peer, TLS handshake included.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers once the
	// request (body included) is written upstream; it ends in 504. A slow
	// upload does not count against it, and bodies may stream for longer.
	ResponseTimeout time.Duration
	// IdleConnTimeout closes pooled connections nobody used for this long.
	IdleConnTimeout time.Duration
	// ReadTimeout bounds the wait for each read of an upstream response
	// body (the time between two successful reads, as proxy_read_timeout).
	// When it passes the response is aborted and the upstream connection
	// closed, not pooled. Peer.ReadTimeout overrides it.
	ReadTimeout time.Duration
	// TunnelIdleTimeout ends a tunnel (WebSocket, after 101) through which
	// no byte went either way for this long. A Peer.ReadTimeout, when
	// set, applies instead: a backend that says how long it may be silent
	// says it for its tunnels too, as proxy_read_timeout does.
	TunnelIdleTimeout time.Duration
	// ClientBodyTimeout bounds the wait for each read of the request body
	// (client_body_timeout): the upstream request is cut, and the client
	// gets 408 unless its response has started.
	ClientBodyTimeout time.Duration
	// SendTimeout bounds each write of the response to the client
	// (send_timeout): a client that takes no bytes for this long has its
	// connection (HTTP/2: its stream) reset, and the upstream connection
	// is closed.
	SendTimeout time.Duration
	// MaxRequestBodyBytes caps request bodies: a larger Content-Length gets
	// 413 before any upstream is contacted; a body of unknown length that
	// grows beyond it is cut there (413 unless the response has started).
	// Nothing beyond it is forwarded. Negative is unlimited.
	MaxRequestBodyBytes int64
	// MaxIdleConnsPerPeer caps pooled HTTP/1.1 connections per peer. The
	// default keeps one for each stream an HTTP/2 client may have open at
	// once (x/net/http2 allows 250): a smaller pool closes and redials the
	// excess after every burst. ingress-nginx keeps 320
	// (upstream-keepalive-connections).
	MaxIdleConnsPerPeer int
	// MaxAttempts caps upstream attempts per request, however often
	// FailToConnect asks for a retry. It is a safety net, not the retry
	// policy: FailToConnect decides how many attempts a request gets.
	MaxAttempts int
	// MaxPeers caps the peers with a connection pool (a peer is an
	// address with its scheme, TLS name and settings). A new peer beyond
	// it closes the pool used least recently; requests in flight on it
	// finish first.
	MaxPeers int
	// Logger receives what the proxy cannot tell a client: recovered
	// panics, failed writes. Nil discards.
	Logger *slog.Logger
	// TrustedProxies are the peers whose forwarding fields (X-Forwarded-*,
	// Forwarded, X-Real-IP) are believed and appended to. From any other
	// peer they are replaced by what the proxy saw, so that a client
	// cannot claim another address, scheme or host. Empty trusts nobody.
	TrustedProxies []netip.Prefix
	// OnPanic is called for each panic recovered while serving a request
	// (a metric, typically); the request got a 500 or was aborted.
	OnPanic func()
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = DefaultResponseTimeout
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = DefaultIdleConnTimeout
	}
	o.ReadTimeout = orDefault(o.ReadTimeout, DefaultReadTimeout)
	o.TunnelIdleTimeout = orDefault(o.TunnelIdleTimeout, DefaultTunnelIdleTimeout)
	o.ClientBodyTimeout = orDefault(o.ClientBodyTimeout, DefaultClientBodyTimeout)
	o.SendTimeout = orDefault(o.SendTimeout, DefaultSendTimeout)
	if o.MaxRequestBodyBytes == 0 {
		o.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	}
	if o.MaxIdleConnsPerPeer <= 0 {
		o.MaxIdleConnsPerPeer = DefaultMaxIdleConnsPerPeer
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxPeers <= 0 {
		o.MaxPeers = DefaultMaxPeers
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnPanic == nil {
		o.OnPanic = func() {}
	}
	return o
}

// orDefault keeps a set duration, negative ones meaning "none", and
// replaces zero by def.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
