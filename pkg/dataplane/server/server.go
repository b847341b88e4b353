package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// Listener is one socket a Service accepts on.
type Listener struct {
	// Name identifies the listener across a handoff; unique per Server.
	Name string
	// Addr is the address to listen on when no socket is inherited.
	Addr string
	// TLS nil serves HTTP/1.1 and h2c; set, it serves HTTP/1.1 and HTTP/2
	// by ALPN. It needs a certificate source; MinVersion is raised to 1.2.
	TLS *tls.Config
	// ProxyProtocol requires a PROXY protocol (v1 or v2) header before
	// anything else, TLS included, on every connection, as load balancers
	// working at layer 4 send it; the client address it carries becomes the
	// connection's RemoteAddr. A connection without a valid header within
	// ReadHeaderTimeout is closed.
	ProxyProtocol bool
}

// Service is an application and the listeners it serves on.
type Service struct {
	Name      string
	Listeners []Listener
	Handler   http.Handler
}

// Options tune a Server. Zero values take the defaults below.
type Options struct {
	// Inherited are listening sockets received from a predecessor, by
	// Listener.Name; they are used instead of opening Addr.
	Inherited         map[string]net.Listener
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // keep-alive idle limit, default 120s
	GracePeriod       time.Duration // Run's drain limit on SIGTERM, default 30s
	MaxHeaderBytes    int           // default 1 MiB
	// MaxConnections bounds the client connections served at once; a
	// connection beyond it is answered 503 and closed. 0 is unlimited.
	MaxConnections int
	// TrustedProxies, when set, are the only peers whose PROXY protocol
	// header is believed; from any other the header is read and its
	// address ignored. Empty believes every peer (see Listener.ProxyProtocol).
	TrustedProxies []netip.Prefix
	// Logger receives what a client cannot be told; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = 30 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Server owns Services and their listeners.
type Server struct {
	opts     Options
	services []Service

	mu       sync.Mutex
	started  bool
	released bool
	bound    []*bound

	// base is every request's base context; cancelling it ends what
	// the connection set does not track, such as hijacked (upgraded) connections.
	base        context.Context
	cancelBase  context.CancelFunc
	inflight    atomic.Int64
	conns       atomic.Int64 // open client connections, h1, h2 and hijacked (countingListener)
	served      connSet      // connections being served (not hijacked ones)
	draining    atomic.Bool  // HTTP/1 responses close their connection
	failed      chan error
	stopWatch   chan struct{}    // ends served.watchGone, which retires idle workers
	connWorkers workers[connJob] // serve connections (see dispatch)
	stopOnce    sync.Once
	parker      poller         // watches parked idle HTTP/1 connections
	h2workers   workers[h2Job] // run HTTP/2 handlers (see h2Handler)
	accepting   sync.WaitGroup
}

// bound is a Listener with its socket and the engines serving it.
type bound struct {
	name    string
	raw     net.Listener
	gate    *gate
	tls     *tls.Config // nil for cleartext
	handler http.Handler
	// noHeaderMap: the handler reads no http.Request.Header (see
	// HeaderMapReader); asked once, here, not per request.
	noHeaderMap bool
	// noRemoteAddr: the handler reads no http.Request.RemoteAddr (see
	// RemoteAddrReader); asked once, here, not per connection.
	noRemoteAddr bool
	// hs is never served: it is HTTP/2's base configuration and the
	// hook by which Shutdown sends every HTTP/2 connection a GOAWAY.
	hs            *http.Server
	h2            *http2.Server
	h2workers     *workers[h2Job] // run its HTTP/2 handlers
	pp            *proxyListener  // nil without the PROXY protocol; its Listener is set in serve
	handshakeErrs *sparseLog
}

// New prepares a Server; Start opens the listeners.
func New(opts Options, services ...Service) *Server {
	base, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts.withDefaults(), services: services, base: base, cancelBase: cancel,
		failed: make(chan error, 1), stopWatch: make(chan struct{})}
}

// Start opens the listeners (or adopts inherited ones) and serves them.
// If any listener fails, none is served.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server: already started")
	}
	if err := s.validate(); err != nil {
		return err
	}
	bound, err := s.bindAll()
	if err != nil {
		return err
	}
	s.started, s.bound = true, bound
	go s.served.watchGone(s.stopWatch, func() {
		s.connWorkers.tick()
		s.h2workers.tick()
	})
	for _, b := range bound {
		s.serve(b)
	}
	return nil
}

func (s *Server) validate() error {
	seen := make(map[string]bool)
	for _, svc := range s.services {
		if svc.Handler == nil {
			return fmt.Errorf("server: service %q has no handler", svc.Name)
		}
		for _, l := range svc.Listeners {
			switch {
			case l.Name == "":
				return fmt.Errorf("server: service %q has a listener without a name", svc.Name)
			case seen[l.Name]:
				return fmt.Errorf("server: listener name %q is used twice", l.Name)
			case l.TLS != nil && len(l.TLS.Certificates) == 0 && l.TLS.GetCertificate == nil && l.TLS.GetConfigForClient == nil:
				return fmt.Errorf("server: TLS listener %q has no certificate source", l.Name)
			}
			seen[l.Name] = true
		}
	}
	return nil
}

func (s *Server) bindAll() ([]*bound, error) {
	var out []*bound
	used := make(map[string]bool)
	for _, svc := range s.services {
		for _, l := range svc.Listeners {
			b, err := s.bind(svc, l)
			if err != nil {
				for _, done := range out {
					_ = release(done.raw)
				}
				return nil, fmt.Errorf("server: listener %q (%s): %w", l.Name, l.Addr, err)
			}
			used[l.Name] = true
			out = append(out, b)
		}
	}
	for name, l := range s.opts.Inherited {
		if !used[name] {
			s.opts.Logger.Info("server: inherited listener no longer configured; closing it", slog.String("listener", name), slog.String("addr", l.Addr().String()))
			acquire(l)
			_ = release(l)
		}
	}
	return out, nil
}

func (s *Server) bind(svc Service, l Listener) (*bound, error) {
	handler := &tracker{h: svc.Handler, n: &s.inflight, draining: &s.draining, log: s.opts.Logger}
	hs := s.httpServer(handler, l)
	h2, err := s.newH2(hs)
	if err != nil {
		return nil, err
	}
	raw, err := s.socket(l)
	if err != nil {
		return nil, err
	}
	log := s.opts.Logger.With(slog.String("listener", l.Name))
	return &bound{name: l.Name, raw: raw, gate: newGate(raw), tls: tlsConfig(l.TLS), handler: handler, hs: hs, h2: h2, h2workers: &s.h2workers,
		noHeaderMap: !readsHeaderMap(handler), noRemoteAddr: !readsRemoteAddr(handler), pp: s.proxyProtocol(l), handshakeErrs: &sparseLog{logger: log, msg: "server: TLS handshake failed"}}, nil
}

// proxyProtocol is the PROXY protocol reader of listener l, nil if it has none.
func (s *Server) proxyProtocol(l Listener) *proxyListener {
	if !l.ProxyProtocol {
		return nil
	}
	log := s.opts.Logger.With(slog.String("listener", l.Name))
	return &proxyListener{
		timeout: s.opts.ReadHeaderTimeout,
		trusted: s.opts.TrustedProxies,
		refused: &sparseLog{logger: log, msg: "server: closed a connection without a valid PROXY protocol header"},
		ignored: &sparseLog{logger: log, msg: "server: PROXY protocol header ignored: the peer is not a trusted proxy"},
	}
}

// socket adopts the inherited listener of that name, else listens afresh.
func (s *Server) socket(l Listener) (net.Listener, error) {
	if in := s.opts.Inherited[l.Name]; in != nil {
		if samePort(l.Addr, in.Addr()) {
			acquire(in)
			return in, nil
		}
		s.opts.Logger.Warn("server: inherited listener is on another address than configured; listening afresh",
			slog.String("listener", l.Name), slog.String("inherited", in.Addr().String()), slog.String("configured", l.Addr))
		acquire(in)
		_ = release(in)
	}
	raw, err := listenConfig.Listen(context.Background(), "tcp", l.Addr)
	if err != nil {
		return nil, err
	}
	acquire(raw)
	return raw, nil
}

// listenConfig opens listeners whose connections send no TCP keep-alive
// probes, as nginx, HAProxy and Envoy by default: an idle client is ended
// by IdleTimeout, and Go's default (probes after 15 s) cost four
// setsockopt calls on every connection accepted. Inherited listeners keep
// what their opener chose.
var listenConfig = net.ListenConfig{KeepAlive: -1}

// samePort reports whether an inherited socket still fits the configured
// address. Port 0 (any) fits everything.
func samePort(want string, got net.Addr) bool {
	_, wantPort, err := net.SplitHostPort(want)
	if err != nil || wantPort == "" || wantPort == "0" {
		return true
	}
	_, gotPort, err := net.SplitHostPort(got.String())
	return err != nil || gotPort == wantPort
}

// httpServer is the configuration HTTP/2 connections take from
// net/http's Server (see bound.hs); it serves nothing itself.
func (s *Server) httpServer(handler http.Handler, l Listener) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.With(slog.String("listener", l.Name)).Handler(), slog.LevelWarn),
	}
}

// tlsConfig is the listener's TLS configuration as served: TLS 1.2 or
// newer, HTTP/2 and HTTP/1.1 offered by ALPN, full-size records.
func tlsConfig(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	// crypto/tls would start every connection with records of one TCP
	// segment, growing over the first 128 KiB, each a write(2) of its
	// own; whole 16 KiB records (nginx's ssl_buffer_size) take a fifth of
	// the system calls for a large response, and a small one is one
	// record either way.
	c.DynamicRecordSizingDisabled = true
	if len(c.NextProtos) == 0 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	return c
}

// serve accepts through the layers a connection needs, outermost last:
// the PROXY protocol header comes before TLS.
func (s *Server) serve(b *bound) {
	var ln net.Listener = countingListener{Listener: b.gate, conns: &s.conns}
	if b.pp != nil {
		b.pp.Listener = ln
		ln = b.pp
	}
	if b.tls != nil {
		ln = tlsHoldListener{Listener: ln, config: b.tls} // tls.NewListener, over a tlsHold (tlshold.go)
	}
	s.accepting.Add(1)
	go func() {
		defer s.accepting.Done()
		err := s.acceptLoop(b, ln)
		if err == nil {
			return
		}
		s.opts.Logger.Error("server: listener stopped serving", slog.String("listener", b.name), slog.Any("err", err))
		err = fmt.Errorf("server: listener %q stopped serving: %w", b.name, err)
		select {
		case s.failed <- err:
		default:
		}
	}()
}

// Listeners returns the listening sockets by Listener.Name, for a handoff.
// They are the raw sockets, never the TLS or accept-gate wrappers: freshly
// opened ones are *net.TCPListener, inherited ones are what Options.Inherited
// gave, so the handoff can reach the file descriptor (syscall.Conn).
func (s *Server) Listeners() map[string]net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]net.Listener, len(s.bound))
	for _, b := range s.bound {
		out[b.name] = b.raw
	}
	return out
}

// Addr is the bound address of a listener, nil if there is none by that name.
func (s *Server) Addr(listenerName string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bound {
		if b.name == listenerName {
			return b.raw.Addr()
		}
	}
	return nil
}

// tracker counts requests in flight, hijacked ones included, which
// the connection set no longer tracks.
type tracker struct {
	h        http.Handler
	n        *atomic.Int64
	draining *atomic.Bool
	log      *slog.Logger
	refused  atomic.Int64 // 503s for the connection limit, logged sparsely
}

// ReadsRequestHeader is the wrapped handler's answer (see HeaderMapReader).
func (t *tracker) ReadsRequestHeader() bool { return readsHeaderMap(t.h) }

// ReadsRemoteAddr is the wrapped handler's answer (see RemoteAddrReader).
func (t *tracker) ReadsRemoteAddr() bool { return readsRemoteAddr(t.h) }

func (t *tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.n.Add(1)
	defer t.n.Add(-1)
	if info := connInfoOf(r.Context()); info != nil && info.overLimit {
		t.refuse(w)
		return
	}
	if r.ProtoMajor == 1 && t.draining.Load() {
		// The HTTP/1 engine closes the connection after a response that
		// says so; HTTP/2 connections get a GOAWAY from Shutdown instead.
		w.Header().Set("Connection", "close")
	}
	t.h.ServeHTTP(w, r)
}
