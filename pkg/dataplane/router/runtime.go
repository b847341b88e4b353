package router

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
	"github.com/baton-dev/baton/pkg/lb/health"
)

// Observer is told about every finished request. It is how metrics reach
// the data plane without the data plane knowing the metrics library.
type Observer interface {
	ObserveRequest(source, upstream string, status int, elapsed time.Duration)
}

// Router serves the most recently applied snapshot. Apply compiles a
// snapshot completely before publishing it with one atomic store, so a
// request sees either the old configuration or the new one, never a mix,
// and keeps the one it started with until it ends.
type Router struct {
	registry *lb.Registry
	observer Observer
	access   *accesslog.Logger // nil: no access log
	current  atomic.Pointer[state]
	hop      hopMarker
	// mirrorSlots holds a token per mirrored request under way.
	mirrorSlots    chan struct{}
	mirrorsDropped atomic.Uint64

	applyMu sync.Mutex
	// caPools keeps one *x509.CertPool per CA bundle across snapshots,
	// because the proxy pools upstream connections by the pool's identity and
	// a fresh pointer on every Apply would throw those connections away.
	caPools map[string]*x509.CertPool
	// keyPairs keeps parsed certificates across snapshots likewise.
	keyPairs keyPairs
	// reuse keeps the compiled parts of the snapshot in force.
	reuse reuse
}

// state is everything one snapshot compiles into. It is never mutated after
// it is published.
type state struct {
	version uint64
	table   *Table
	certs   *Certificates
	// upstreams are indexed by slot (see reuse); a free slot is nil.
	upstreams slotList
	byName    *cowMap[int] // upstreams by Name, for mirrors
}

// upstreamRuntime is an upstream ready for the hot path: its pool and a
// template of the peer every request to it is sent to.
type upstreamRuntime struct {
	name string
	pool *lb.Pool
	peer proxy.Peer // Address filled per request
	// sniFromRequest: the TLS name is the request's Host (HTTPS with
	// neither a server name nor a Host rewrite), filled per request too.
	sniFromRequest bool
	retries        int
	host           string
	headers        snapshot.HeaderEdits
}

// New returns a Router with no configuration: every request gets 404 until
// the first Apply.
func New(registry *lb.Registry, observer Observer) *Router {
	r := &Router{registry: registry, observer: observer, caPools: map[string]*x509.CertPool{}, hop: newHopMarker(),
		mirrorSlots: make(chan struct{}, maxMirrorsInFlight)}
	empty, err := Compile(&snapshot.Snapshot{})
	if err != nil {
		panic("router: an empty snapshot must compile: " + err.Error())
	}
	r.current.Store(&state{table: empty, byName: &cowMap[int]{}})
	return r
}

// SetAccessLog sends a line per request to l (nil: none). Call it before
// the router serves: requests read it without synchronisation.
func (r *Router) SetAccessLog(l *accesslog.Logger) { r.access = l }

// Apply compiles s and publishes it. On error the previous configuration
// stays in force: a producer bug must not take routes down. It compiles
// only what differs from the snapshot in force (see reuse), so s must not
// change once applied.
func (r *Router) Apply(s *snapshot.Snapshot) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	table, index, err := r.reuse.compileTable(s, r.current.Load().table)
	if err != nil {
		return fmt.Errorf("compile routes of snapshot %d: %w", s.Version, err)
	}
	certs, sameCerts := r.reuse.certificates(s, r.current.Load().certs)
	if !sameCerts {
		if certs, err = r.compileCertificates(s, r.current.Load().certs); err != nil {
			return fmt.Errorf("compile certificates of snapshot %d: %w", s.Version, err)
		}
	}
	ups, err := r.reuse.upstreamsOf(r, s, index)
	if err != nil {
		return err
	}
	// index numbers the upstreams as ups does: by slot (see reuse).
	r.current.Store(&state{version: s.Version, table: table, certs: certs, upstreams: ups, byName: index})
	if !sameCerts {
		r.keyPairs.commit()
	}
	r.reuse.commit(s, table, index, ups)
	return nil
}

// compileCertificates patches inForce, the certificates of the snapshot
// in force, into those of s where it can (see patchable), else compiles
// them all.
func (r *Router) compileCertificates(s *snapshot.Snapshot, inForce *Certificates) (*Certificates, error) {
	if patchable(r.reuse.snap, s, inForce) {
		return r.keyPairs.patch(r.reuse.snap, s, inForce)
	}
	return r.keyPairs.compile(s)
}

// Check tells whether Apply would accept s, without publishing it or
// touching pools and health checks: a producer that got an error from
// Apply uses it to find which parts of its snapshot are refused.
func (r *Router) Check(s *snapshot.Snapshot) error {
	if _, err := Compile(s); err != nil {
		return fmt.Errorf("compile routes: %w", err)
	}
	if _, err := CompileCertificates(s); err != nil {
		return fmt.Errorf("compile certificates: %w", err)
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	scratch := map[string]*x509.CertPool{}
	for _, u := range s.AllUpstreams() {
		if _, err := r.peerTemplate(u, scratch); err != nil {
			return fmt.Errorf("upstream %s: %w", u.Name, err)
		}
	}
	return nil
}

// HopID is this router's received-by in the Via header of the requests
// it forwards; a request that arrives with it already there is a loop.
func (r *Router) HopID() string { return r.hop.id }

// Version is the version of the snapshot in force.
func (r *Router) Version() uint64 { return r.current.Load().version }

// GetCertificate selects the certificate for a TLS handshake by SNI, from
// the gateway port's certificates when the connection's local address is
// a gateway's; it is meant for tls.Config.GetCertificate. With no match and no default
// certificate it serves a self-signed one (FakeCertificateName).
func (r *Router) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := r.current.Load().certs
	if c := certs.ForConn(hello.Conn).Get(hello.ServerName); c != nil {
		return c, nil
	}
	return fakeCertificate()
}

// upstreams builds every peer template before it touches the registry, so
// a snapshot refused for a bad CA bundle leaves pools and health checks as
// they were; CA pools no longer used by any upstream are dropped.
func (r *Router) upstreams(s *snapshot.Snapshot) (slotList, error) {
	usedCAs := map[string]*x509.CertPool{}
	n := s.UpstreamCount()
	runtimes := make([]upstreamRuntime, n)
	out := make([]*upstreamRuntime, n)
	cfgs := make([]lb.PoolConfig, n)
	for i, u := range s.AllUpstreams() {
		rt, err := r.runtimeOf(u, usedCAs)
		if err != nil {
			return slotList{}, err
		}
		runtimes[i] = rt
		out[i] = &runtimes[i]
		cfgs[i] = poolConfig(u)
	}
	pools := r.registry.Update(cfgs)
	for i := range out {
		out[i].pool = pools[out[i].name]
	}
	r.caPools = usedCAs
	return slotListOf(out), nil
}

// runtimeOf is u's runtime, without its pool.
func (r *Router) runtimeOf(u *snapshot.Upstream, usedCAs map[string]*x509.CertPool) (upstreamRuntime, error) {
	peer, err := r.peerTemplate(u, usedCAs)
	if err != nil {
		return upstreamRuntime{}, fmt.Errorf("upstream %s: %w", u.Name, err)
	}
	return upstreamRuntime{name: u.Name, peer: peer, sniFromRequest: peer.Scheme == proxy.SchemeHTTPS && peer.SNI == "",
		retries: u.Retries, host: u.HostRewrite, headers: u.RequestHeaders}, nil
}

func poolConfig(u *snapshot.Upstream) lb.PoolConfig {
	targets := make([]lb.Target, len(u.Endpoints))
	for i, e := range u.Endpoints {
		targets[i] = lb.Target{Addr: e.Address, Weight: e.Weight}
	}
	cfg := lb.PoolConfig{Name: u.Name, Targets: targets, Policy: lb.Policy(u.Policy),
		Passive: lb.PassiveConfig{Failures: u.Passive.ConsecutiveFailures, EjectFor: u.Passive.EjectDuration,
			// The snapshot and lb spell the settings alike.
			FailingResponses: lb.FailingResponses(u.Passive.FailingResponses)}}
	if cfg.Policy == "" {
		cfg.Policy = lb.RoundRobin
	}
	if hc := u.HealthCheck; hc != nil {
		cfg.Active = &lb.ActiveConfig{Path: hc.Path, Interval: hc.Interval, Timeout: hc.Timeout,
			Healthy: hc.HealthyThreshold, Unhealthy: hc.UnhealthyThreshold,
			Protocol: checkProtocol(u.Protocol), Host: u.HostRewrite,
			GRPC: hc.GRPC, GRPCService: hc.GRPCService}
	}
	return cfg
}

// checkProtocol is the protocol of an upstream's checks: its own, since a
// check must reach the port the traffic does the way the traffic does.
func checkProtocol(p snapshot.Protocol) health.Protocol {
	switch p {
	case snapshot.ProtocolH2C:
		return health.H2C
	case snapshot.ProtocolHTTPS:
		return health.HTTPS
	}
	return health.HTTP1
}

func (r *Router) peerTemplate(u *snapshot.Upstream, usedCAs map[string]*x509.CertPool) (proxy.Peer, error) {
	p := proxy.Peer{ConnectTimeout: u.Timeouts.Connect, ResponseTimeout: u.Timeouts.Response,
		IdleTimeout: u.Timeouts.Idle, ReadTimeout: u.Timeouts.Read}
	switch u.Protocol {
	case snapshot.ProtocolH2C:
		p.Scheme = proxy.SchemeH2C
	case snapshot.ProtocolHTTPS:
		p.Scheme = proxy.SchemeHTTPS
		p.SNI = u.TLS.ServerName
		if p.SNI == "" && u.HostRewrite != "" {
			// The name the rewritten Host gives, without its port.
			p.SNI = serverName(u.HostRewrite)
		}
		p.InsecureSkipVerify = u.TLS.InsecureSkipVerify
		if len(u.TLS.CAPEM) > 0 {
			pool, err := r.caPool(u.TLS.CAPEM, usedCAs)
			if err != nil {
				return p, err
			}
			p.RootCAs = pool
		}
	}
	return p, nil
}

// caPool reuses the pool of a CA bundle seen in the previous snapshot and
// records it in used.
func (r *Router) caPool(pem []byte, used map[string]*x509.CertPool) (*x509.CertPool, error) {
	pool, ok := r.caPools[string(pem)]
	if !ok {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TLS CA bundle holds no PEM certificate")
		}
	}
	used[string(pem)] = pool
	return pool, nil
}

// PeerFilter returns a test of whether the configuration in force still
// sends requests to a pooled peer: one of its upstreams has the peer's
// address as an endpoint and a peer template equal to the peer in every
// other field, the TLS name aside where it comes from the request. Pools
// built for an old CA bundle, old timeouts or another server name fail it.
// The registry says which pools list an address, so the test costs what
// the pooled peers are, not what every upstream's endpoints are: it is
// made on every Apply.
func (r *Router) PeerFilter() func(proxy.Peer) bool {
	st := r.current.Load()
	var names []string
	return func(p proxy.Peer) bool {
		names = r.registry.PoolsListing(names[:0], p.Address)
		for _, name := range names {
			if i, ok := st.byName.lookup(name); ok && st.upstreams.at(i) != nil && st.upstreams.at(i).pool != nil && st.upstreams.at(i).produces(p) {
				return true
			}
		}
		return false
	}
}

// produces reports whether u sends requests to p (whose address is one of
// u's endpoints).
func (u *upstreamRuntime) produces(p proxy.Peer) bool {
	t := u.peer
	t.Address = p.Address
	if u.sniFromRequest {
		t.SNI = p.SNI
	}
	return t == p
}
