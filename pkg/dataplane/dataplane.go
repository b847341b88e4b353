package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/handoff"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
)

// Listener names, shared with the next process through the handoff.
const (
	ListenerHTTP  = "http"
	ListenerHTTPS = "https"
)

// Options configure a DataPlane. Zero durations take the server defaults.
type Options struct {
	HTTPAddr  string // empty disables the cleartext listener
	HTTPSAddr string // empty disables the TLS listener
	// MoreHTTPAddrs and MoreHTTPSAddrs are further listeners served as
	// HTTPAddr and HTTPSAddr are (Gateway listeners on more ports than
	// one), named ListenerHTTP+"@"+addr and ListenerHTTPS+"@"+addr.
	MoreHTTPAddrs, MoreHTTPSAddrs []string
	// HandoffSocket is the Unix socket on which listeners are taken from a
	// predecessor and offered to a successor; empty disables the handoff.
	HandoffSocket     string
	GracePeriod       time.Duration
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	MaxConnections    int // per Server, all its listeners; beyond it 503 (0: unlimited)
	Proxy             proxy.Options
	Observer          router.Observer
	// ProxyProtocol requires a PROXY protocol header on every connection
	// to HTTPAddr and HTTPSAddr (never on the admin listeners). Only peers
	// in Proxy.TrustedProxies may speak for a client when that is set.
	ProxyProtocol bool
	// AdminHandler serves AdminListeners (see StartAdmin).
	AdminHandler   http.Handler
	AdminListeners []AdminListener
	// AccessLog gets one line per request; nil logs none. The data plane
	// closes it in Shutdown and Close, writing what is queued.
	AccessLog *accesslog.Logger
	// Logger is handed to every part of the data plane (Proxy.Logger
	// unless that is set); nil discards.
	Logger *slog.Logger

	// WrapRouter, when set, returns the phases HTTPAddr and HTTPSAddr run
	// instead of the router's; they usually embed the router and override a
	// phase or two, calling the router's from theirs:
	//
	//	type auth struct{ proxy.Phases[*router.RequestCtx] }
	//
	//	func (a auth) RequestFilter(s *proxy.Session, c *router.RequestCtx) (bool, error) {
	//		if s.RequestHeader().Get("X-Token") != token { ... answer 403 ... }
	//		return a.Phases.RequestFilter(s, c)
	//	}
	WrapRouter func(router proxy.Phases[*router.RequestCtx]) proxy.Phases[*router.RequestCtx]
	// Services are served next to the router, on their own listeners and
	// handlers (typically a proxy.New of phases of their own); they start,
	// move in a handoff and drain with it. Listener names must be unique
	// across the router's, these and AdminListeners.
	Services []server.Service
}

// accessLogFlushTimeout bounds writing the queued access log lines when
// stopping: a writer blocked on a full pipe must not hold the exit.
const accessLogFlushTimeout = 5 * time.Second

// DataPlane is a running (or ready to run) data plane.
type DataPlane struct {
	opts     Options
	registry *lb.Registry
	router   *router.Router
	proxy    *proxy.Proxy[*router.RequestCtx]
	server   *server.Server
	offerer  *handoff.Offerer

	admin        []*server.Server
	adminPending []AdminListener // held by the predecessor until the handoff

	takenOnce sync.Once
	takenOver chan struct{}
}

// New builds a data plane that routes nothing until the first Apply.
func New(opts Options) *DataPlane {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Proxy.Logger == nil {
		opts.Proxy.Logger = opts.Logger
	}
	registry := lb.NewRegistry(lb.RegistryOptions{Logger: opts.Logger})
	rt := router.New(registry, opts.Observer)
	rt.SetAccessLog(opts.AccessLog)
	return &DataPlane{
		opts:      opts,
		registry:  registry,
		router:    rt,
		proxy:     proxy.New(routerPhases(rt, opts.WrapRouter), opts.Proxy),
		takenOver: make(chan struct{}),
	}
}

func routerPhases(rt *router.Router, wrap func(proxy.Phases[*router.RequestCtx]) proxy.Phases[*router.RequestCtx]) proxy.Phases[*router.RequestCtx] {
	if wrap == nil {
		return rt
	}
	return wrap(rt)
}

// Apply publishes a snapshot; requests already in flight finish on the one
// they started with. Pooled connections to peers the snapshot no longer
// sends to are closed: endpoints that left, and peers whose CA bundle,
// server name, verification or timeouts changed.
func (d *DataPlane) Apply(s *snapshot.Snapshot) error {
	if err := d.router.Apply(s); err != nil {
		return err
	}
	d.proxy.CloseIdlePeers(d.router.PeerFilter())
	return nil
}

// Check tells whether Apply would accept s, changing nothing.
func (d *DataPlane) Check(s *snapshot.Snapshot) error { return d.router.Check(s) }

// Handler is the proxy application, for tests and embedders that bring
// their own listeners.
func (d *DataPlane) Handler() *proxy.Proxy[*router.RequestCtx] { return d.proxy }

// Start takes the listeners from a predecessor when there is one, else
// opens fresh ones, and starts serving. Call it once the first snapshot is
// applied: taking the listeners is what makes the predecessor stop. Run
// calls it; call it directly only to drive the stop yourself.
func (d *DataPlane) Start(ctx context.Context) error {
	if err := d.checkListenerNames(); err != nil {
		return err
	}
	taken := d.take(ctx)
	var inherited map[string]net.Listener
	if taken != nil {
		inherited = taken.Listeners
	}
	inherited, admin := d.split(inherited)
	d.server = server.New(d.serverOptions(inherited), d.services()...)
	if err := d.server.Start(); err != nil {
		return fmt.Errorf("start listeners: %w", err)
	}
	d.startPendingAdmin(admin)
	if taken != nil {
		if err := taken.Confirm(); err != nil {
			// We already accept on the shared sockets, so serving goes on;
			// the predecessor, if still alive, keeps serving too until it
			// is stopped by other means.
			d.opts.Logger.Error("handoff: confirming to the predecessor failed", slog.Any("err", err))
		}
	}
	return d.offer(ctx)
}

func (d *DataPlane) take(ctx context.Context) *handoff.Taken {
	if d.opts.HandoffSocket == "" {
		return nil
	}
	taken, err := handoff.Take(ctx, d.opts.HandoffSocket)
	switch {
	case err == nil:
		d.opts.Logger.Info("handoff: took the listeners of the previous process", slog.Int("listeners", len(taken.Listeners)))
		return taken
	case errors.Is(err, handoff.ErrNoPredecessor):
		d.opts.Logger.Info("handoff: no previous process; opening fresh listeners", slog.String("socket", d.opts.HandoffSocket))
	default:
		d.opts.Logger.Error("handoff: taking the listeners failed; opening fresh listeners", slog.String("socket", d.opts.HandoffSocket), slog.Any("err", err))
	}
	return nil
}

func (d *DataPlane) offer(ctx context.Context) error {
	if d.opts.HandoffSocket == "" {
		return nil
	}
	o, err := handoff.Offer(ctx, d.opts.HandoffSocket, d.listeners(), func() {
		d.takenOnce.Do(func() { close(d.takenOver) })
	}, handoff.WithLogger(d.opts.Logger))
	if err != nil {
		return fmt.Errorf("offer listeners on %s: %w", d.opts.HandoffSocket, err)
	}
	d.offerer = o
	return nil
}

func (d *DataPlane) serverOptions(inherited map[string]net.Listener) server.Options {
	return server.Options{
		Inherited:         inherited,
		ReadHeaderTimeout: d.opts.ReadHeaderTimeout,
		IdleTimeout:       d.opts.IdleTimeout,
		GracePeriod:       d.opts.GracePeriod,
		MaxHeaderBytes:    d.opts.MaxHeaderBytes,
		MaxConnections:    d.opts.MaxConnections,
		TrustedProxies:    d.opts.Proxy.TrustedProxies, // one list for PROXY headers and forwarding fields
		Logger:            d.opts.Logger,
	}
}

// services are the router's, when it has listeners, and Options.Services.
func (d *DataPlane) services() []server.Service {
	out := slices.Clone(d.opts.Services)
	if ingress := d.ingress(); len(ingress.Listeners) > 0 {
		out = append([]server.Service{ingress}, out...)
	}
	return out
}

// checkListenerNames refuses, before any socket is taken, a name used
// twice: the handoff matches sockets to listeners by name alone.
func (d *DataPlane) checkListenerNames() error {
	owner := make(map[string]string)
	var errs []error
	claim := func(name, svc string) {
		if other, dup := owner[name]; dup {
			errs = append(errs, fmt.Errorf("listener name %q is used by services %q and %q", name, other, svc))
		}
		owner[name] = svc
	}
	for _, svc := range d.services() {
		for _, l := range svc.Listeners {
			claim(l.Name, svc.Name)
		}
	}
	for _, al := range d.opts.AdminListeners {
		claim(al.Name, "admin")
	}
	return errors.Join(errs...)
}

func (d *DataPlane) ingress() server.Service {
	svc := server.Service{Name: "ingress", Handler: d.proxy}
	if d.opts.HTTPAddr != "" {
		svc.Listeners = append(svc.Listeners, server.Listener{Name: ListenerHTTP, Addr: d.opts.HTTPAddr, ProxyProtocol: d.opts.ProxyProtocol})
	}
	for _, a := range d.opts.MoreHTTPAddrs {
		svc.Listeners = append(svc.Listeners, server.Listener{Name: ListenerHTTP + "@" + a, Addr: a, ProxyProtocol: d.opts.ProxyProtocol})
	}
	if d.opts.HTTPSAddr == "" && len(d.opts.MoreHTTPSAddrs) == 0 {
		return svc
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: d.router.GetCertificate}
	if d.opts.HTTPSAddr != "" {
		svc.Listeners = append(svc.Listeners, server.Listener{Name: ListenerHTTPS, Addr: d.opts.HTTPSAddr, TLS: tlsConf, ProxyProtocol: d.opts.ProxyProtocol})
	}
	for _, a := range d.opts.MoreHTTPSAddrs {
		svc.Listeners = append(svc.Listeners, server.Listener{Name: ListenerHTTPS + "@" + a, Addr: a, TLS: tlsConf, ProxyProtocol: d.opts.ProxyProtocol})
	}
	return svc
}

// listeners are all sockets a successor takes: ingress and admin.
func (d *DataPlane) listeners() map[string]net.Listener {
	out := d.server.Listeners()
	for _, s := range d.admin {
		maps.Copy(out, s.Listeners())
	}
	return out
}

// TakenOver is closed when a successor has taken the listeners; the caller
// should then Shutdown, which drains what this process still serves.
func (d *DataPlane) TakenOver() <-chan struct{} { return d.takenOver }

// Addr is the bound address of a listener (ListenerHTTP, ListenerHTTPS).
func (d *DataPlane) Addr(name string) net.Addr { return d.server.Addr(name) }

// Shutdown stops accepting, lets requests in flight finish within ctx and
// stops the health checkers. Listening sockets a successor took stay open in
// the successor.
func (d *DataPlane) Shutdown(ctx context.Context) error {
	if d.offerer != nil {
		d.offerer.Close()
	}
	servers := d.servers()
	for _, s := range servers {
		s.StopAccepting()
	}
	// Together, so that each drain (and its keep-alive linger) starts now.
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	wg.Wait()
	d.registry.Close()
	return errors.Join(append(errs, d.closeAccessLog())...)
}

func (d *DataPlane) servers() []*server.Server {
	out := slices.Clone(d.admin)
	if d.server != nil {
		out = append(out, d.server)
	}
	return out
}

// Close stops at once.
func (d *DataPlane) Close() error {
	if d.offerer != nil {
		d.offerer.Close()
	}
	d.registry.Close()
	var errs []error
	for _, s := range d.servers() {
		errs = append(errs, s.Close())
	}
	return errors.Join(append(errs, d.closeAccessLog())...)
}

// closeAccessLog writes the queued lines once no request is left to log.
func (d *DataPlane) closeAccessLog() error {
	ctx, cancel := context.WithTimeout(context.Background(), accessLogFlushTimeout)
	defer cancel()
	if err := d.opts.AccessLog.Close(ctx); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}
