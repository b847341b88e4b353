package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// peerKey is what pooled connections are shared by: the peer's identity
// and the settings its transports are built with.
type peerKey struct {
	address        string
	scheme         Scheme
	sni            string
	insecure       bool
	roots          *x509.CertPool
	connectTimeout time.Duration
	// responseTimeout is in the key because the transports enforce it.
	responseTimeout time.Duration
	idleTimeout     time.Duration
}

// upstream holds the pooled connections to one peer.
type upstream struct {
	peer Peer    // as the phases gave it first, for CloseIdlePeers
	key  peerKey // with the defaults filled in
	// rt carries ordinary requests; upgrades carries Upgrade requests,
	// which only HTTP/1.1 can do (it is rt itself for SchemeHTTP1).
	rt       http.RoundTripper
	upgrades http.RoundTripper
	idle     []interface{ CloseIdleConnections() }
	retired  atomic.Bool
	lastUsed atomic.Int64 // peerPool.now at the latest get, for eviction
}

// transportFor is the transport of a request that offers an upgrade or
// not.
func (u *upstream) transportFor(upgrade bool) http.RoundTripper {
	if upgrade {
		return u.upgrades
	}
	return u.rt
}

func (u *upstream) closeIdle() {
	for _, c := range u.idle {
		c.CloseIdleConnections()
	}
}

// retire closes the idle connections and marks the pool so that those
// still in use are closed when their requests end (see release).
func (u *upstream) retire() {
	u.retired.Store(true)
	u.closeIdle()
}

// peerPool maps peers to their pooled connections. It holds at most
// Options.MaxPeers pools: clients choose the Host, and with it the TLS
// name of a peer, so the number of peers is theirs to choose too.
type peerPool struct {
	opts  Options
	epoch time.Time
	mu    sync.RWMutex
	m     map[peerKey]*upstream
}

func newPeerPool(opts Options) *peerPool {
	return &peerPool{opts: opts, epoch: time.Now(), m: make(map[peerKey]*upstream)}
}

// now is a monotonic clock for lastUsed; it neither allocates nor shares
// a counter between cores.
func (pp *peerPool) now() int64 { return int64(time.Since(pp.epoch)) }

// since is t on the clock of now (t zero: now). Both carry a monotonic
// reading (time.Now's), so t.Sub reads no clock.
func (pp *peerPool) since(t time.Time) int64 {
	if t.IsZero() {
		return pp.now()
	}
	return int64(t.Sub(pp.epoch))
}

func (pp *peerPool) key(p *Peer) peerKey {
	k := peerKey{address: p.Address, scheme: p.Scheme, sni: p.SNI, insecure: p.InsecureSkipVerify,
		roots: p.RootCAs, connectTimeout: p.ConnectTimeout, responseTimeout: p.ResponseTimeout, idleTimeout: p.IdleTimeout}
	if k.connectTimeout <= 0 {
		k.connectTimeout = pp.opts.ConnectTimeout
	}
	if k.responseTimeout <= 0 {
		k.responseTimeout = pp.opts.ResponseTimeout
	}
	if k.idleTimeout <= 0 {
		k.idleTimeout = pp.opts.IdleConnTimeout
	}
	return k
}

// get returns the pool for peer, creating it on first use.
func (pp *peerPool) get(p *Peer) (*upstream, error) { return pp.getAt(p, time.Time{}) }

// getAt is get for a request that started at start (zero: now). Its
// start, which the Session read anyway, stamps the pool's use: the order
// of use that eviction needs is the same, and a request costs no clock
// read for it.
func (pp *peerPool) getAt(p *Peer, start time.Time) (*upstream, error) {
	if p.Scheme > SchemeHTTPS {
		return nil, &Error{Status: http.StatusBadGateway, Reason: "peer " + p.Address + " has unknown scheme " + strconv.Itoa(int(p.Scheme))}
	}
	k := pp.key(p)
	pp.mu.RLock()
	up := pp.m[k]
	pp.mu.RUnlock()
	if up == nil {
		up = pp.add(p, k)
	}
	up.lastUsed.Store(pp.since(start))
	return up, nil
}

// add creates the pool for k unless another request just did, evicting
// the least recently used pool when there are MaxPeers already.
func (pp *peerPool) add(p *Peer, k peerKey) *upstream {
	var evicted *upstream
	pp.mu.Lock()
	up := pp.m[k]
	if up == nil {
		if len(pp.m) >= pp.opts.MaxPeers {
			evicted = pp.evictLocked()
		}
		up = newUpstream(*p, k, pp.opts)
		up.lastUsed.Store(pp.now())
		pp.m[k] = up
	}
	pp.mu.Unlock()
	if evicted != nil {
		// Requests in flight on it finish; their connections close then.
		evicted.retire()
	}
	return up
}

// evictLocked removes the least recently used pool. The scan is linear,
// but it only runs when a new peer arrives at the limit, and then a new
// connection, usually a TLS handshake, costs far more.
func (pp *peerPool) evictLocked() *upstream {
	var oldest peerKey
	var victim *upstream
	for k, up := range pp.m {
		if victim == nil || up.lastUsed.Load() < victim.lastUsed.Load() {
			oldest, victim = k, up
		}
	}
	delete(pp.m, oldest)
	return victim
}

// retire drops the pools of peers keep rejects.
func (pp *peerPool) retire(keep func(Peer) bool) {
	pp.mu.RLock()
	var gone []peerKey
	for k, up := range pp.m {
		if !keep(up.peer) {
			gone = append(gone, k)
		}
	}
	pp.mu.RUnlock()
	pp.mu.Lock()
	ups := make([]*upstream, 0, len(gone))
	for _, k := range gone {
		if up := pp.m[k]; up != nil {
			delete(pp.m, k)
			ups = append(ups, up)
		}
	}
	pp.mu.Unlock()
	for _, up := range ups {
		up.retire()
	}
}

// release is called when a request is done with up; connections of a
// retired peer are closed as soon as they fall idle.
func (pp *peerPool) release(up *upstream) {
	if up.retired.Load() {
		up.closeIdle()
	}
}

// newUpstream builds the clients for a peer: Baton's own HTTP/1.1 client
// for HTTP/1.1 (and for HTTPS peers that choose http/1.1 by ALPN), and
// x/net/http2's for h2c and for HTTPS peers that choose h2.
func newUpstream(p Peer, k peerKey, o Options) *upstream {
	c := &connector{dialer: net.Dialer{Timeout: k.connectTimeout, KeepAlive: 30 * time.Second}, timeout: k.connectTimeout}
	up := &upstream{peer: p, key: k}
	switch k.scheme {
	case SchemeH2C:
		h1 := newH1Client(c.dialer1(k.address), k, o)
		h2c := newH2Client(k, c.dial) // prior knowledge, no Upgrade dance
		up.rt, up.upgrades = h2c, h1
		up.idle = []interface{ CloseIdleConnections() }{h1, h2c}
	case SchemeHTTPS:
		conf := upstreamTLS(k)
		upgrades := newH1Client(c.dialer1TLS(k.address, withALPN(conf, "http/1.1")), k, o)
		bothALPN := withALPN(conf, "h2", "http/1.1")
		sw := newALPNSwitch(newH1Client(c.dialer1TLS(k.address, bothALPN), k, o), k, c.dialTLS(bothALPN))
		up.rt, up.upgrades = sw, upgrades
		up.idle = []interface{ CloseIdleConnections() }{upgrades, sw}
	default:
		h1 := newH1Client(c.dialer1(k.address), k, o)
		up.rt, up.upgrades = h1, h1
		up.idle = []interface{ CloseIdleConnections() }{h1}
	}
	return up
}

func upstreamTLS(k peerKey) *tls.Config {
	name := k.sni
	if name == "" {
		name = k.address
		if host, _, err := net.SplitHostPort(k.address); err == nil {
			name = host
		}
	}
	return &tls.Config{
		ServerName:         name,
		RootCAs:            k.roots,
		InsecureSkipVerify: k.insecure, //nolint:gosec // only when the Upstream asks for it
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
		// Full 16 KiB records from the start, each a write(2): an upload
		// does not go out in segment-sized ones first (see the server's).
		DynamicRecordSizingDisabled: true,
	}
}

func withALPN(conf *tls.Config, protos ...string) *tls.Config {
	c := conf.Clone()
	c.NextProtos = protos
	return c
}

// connector dials peers and marks every failure as a connect failure.
type connector struct {
	dialer  net.Dialer
	timeout time.Duration
}

func (c *connector) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &connectError{err: err}
	}
	return conn, nil
}

// dialer1 dials addr, for the HTTP/1.1 client.
func (c *connector) dialer1(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) { return c.dial(ctx, "tcp", addr) }
}

// dialer1TLS dials addr and completes a TLS handshake with conf.
func (c *connector) dialer1TLS(addr string, conf *tls.Config) func(context.Context) (net.Conn, error) {
	dial := c.dialTLS(conf)
	return func(ctx context.Context) (net.Conn, error) { return dial(ctx, "tcp", addr) }
}

// dialTLS dials and completes the TLS handshake within the connect timeout,
// so that a certificate the peer cannot prove is a connect failure too.
func (c *connector) dialTLS(conf *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		raw, err := c.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &connectError{err: err}
		}
		return tc, nil
	}
}
