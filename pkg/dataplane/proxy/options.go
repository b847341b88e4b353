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
	DefaultMaxIdleConnsPerPeer = 32
	// DefaultMaxAttempts is only a safety cap: the phases own the retry
	// budget (an Upstream's spec.retries), and this stops a phase that never
	// says stop. It is one first attempt plus the largest spec.retries the
	// Upstream CRD accepts (10); anything lower would silently cut an
	// Upstream's retries short.
	DefaultMaxAttempts = 1 + 10
	DefaultMaxPeers    = 1024
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
	// MaxIdleConnsPerPeer caps pooled HTTP/1.1 connections per peer.
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
