package proxy_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/internal/nettest"
)

// safety bounds waits that only a broken proxy would reach.
const safety = 10 * time.Second

type testCtx struct{ picked int }

type logEntry struct {
	status    int
	err       error
	attempt   int
	bytes     int64
	received  int64
	requestID string
	elapsed   time.Duration
}

// testPhases routes every request to peers[attempt-1] (the last one
// repeated) unless a hook says otherwise, and records what it is called with.
// Like the router's, they read no Session.Request.Header unless readsMap:
// over HTTP/1 the server makes none, and the hooks read the client's
// fields from Session.RequestHeader.
type testPhases struct {
	peers           []proxy.Peer
	retry           bool
	readsMap        bool
	requestFilter   func(*proxy.Session) (bool, error)
	pick            func(*proxy.Session) (*proxy.Peer, error)
	upstreamRequest func(*proxy.Session, *proxy.Request) error
	responseFilter  func(*proxy.Session, *proxy.Response) error
	quiet           bool // record nothing (benchmarks)

	mu    sync.Mutex
	calls []string
	logs  []logEntry
}

var _ proxy.Phases[*testCtx] = (*testPhases)(nil)

func (p *testPhases) record(call string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.mu.Unlock()
}

func (p *testPhases) NewCtx() *testCtx { return &testCtx{} }

func (p *testPhases) ReadsRequestHeader() bool { return p.readsMap }

func (p *testPhases) RequestFilter(s *proxy.Session, ctx *testCtx) (bool, error) {
	p.record("RequestFilter")
	if p.requestFilter != nil {
		return p.requestFilter(s)
	}
	return false, nil
}

func (p *testPhases) UpstreamPeer(s *proxy.Session, ctx *testCtx) (*proxy.Peer, error) {
	p.record("UpstreamPeer")
	if p.pick != nil {
		return p.pick(s)
	}
	i := min(s.Attempt-1, len(p.peers)-1)
	peer := p.peers[i]
	ctx.picked = i
	return &peer, nil
}

func (p *testPhases) UpstreamRequestFilter(s *proxy.Session, r *proxy.Request, ctx *testCtx) error {
	p.record("UpstreamRequestFilter")
	if p.upstreamRequest != nil {
		return p.upstreamRequest(s, r)
	}
	return nil
}

func (p *testPhases) FailToConnect(s *proxy.Session, peer *proxy.Peer, err error, ctx *testCtx) bool {
	p.record("FailToConnect")
	return p.retry
}

func (p *testPhases) ResponseFilter(s *proxy.Session, r *proxy.Response, ctx *testCtx) error {
	p.record("ResponseFilter")
	if p.responseFilter != nil {
		return p.responseFilter(s, r)
	}
	return nil
}

func (p *testPhases) Logging(s *proxy.Session, err error, ctx *testCtx) {
	p.record("Logging")
	if p.quiet {
		return
	}
	p.mu.Lock()
	p.logs = append(p.logs, logEntry{status: s.Status, err: err, attempt: s.Attempt, bytes: s.BytesSent,
		received: s.BytesReceived(), requestID: s.RequestID, elapsed: s.Elapsed()})
	p.mu.Unlock()
}

func (p *testPhases) snapshot() ([]string, []logEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...), append([]logEntry(nil), p.logs...)
}

// rig is a proxy served by a server.Server on 127.0.0.1.
type rig struct {
	phases *testPhases
	proxy  *proxy.Proxy[*testCtx]
	srv    *server.Server
	addr   string
	url    string
}

// newRig serves phases on cleartext (h1 + h2c), or TLS when tlsConf is set.
func newRig(t testing.TB, phases *testPhases, opts proxy.Options, tlsConf *tls.Config) *rig {
	t.Helper()
	logger := logtest.Logger(t)
	if opts.Logger == nil {
		opts.Logger = logger
	}
	r := newRigServing(t, proxy.New[*testCtx](phases, opts), tlsConf)
	r.phases = phases
	return r
}

// newRigServing serves p as newRig does.
func newRigServing(t testing.TB, p *proxy.Proxy[*testCtx], tlsConf *tls.Config) *rig {
	t.Helper()
	logger := logtest.Logger(t)
	srv := server.New(server.Options{Logger: logger},
		server.Service{Name: "test", Handler: p, Listeners: []server.Listener{{Name: "main", Addr: "127.0.0.1:0", TLS: tlsConf}}})
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := srv.Addr("main").String()
	scheme := "http://"
	if tlsConf != nil {
		scheme = "https://"
	}
	return &rig{proxy: p, srv: srv, addr: addr, url: scheme + addr}
}

// settle waits for every request the proxy is serving, so Logging has run.
func (r *rig) settle(t testing.TB) ([]string, []logEntry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	return r.phases.snapshot()
}

func peerOf(t testing.TB, ts *httptest.Server, scheme proxy.Scheme) proxy.Peer {
	t.Helper()
	return proxy.Peer{Address: ts.Listener.Addr().String(), Scheme: scheme}
}

// countingBackend counts the connections a backend accepted and closed.
type countingBackend struct {
	*httptest.Server
	accepted, closed atomic.Int64
}

func newCountingBackend(t testing.TB, h http.Handler) *countingBackend {
	b := unstartedCountingBackend(h)
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// newCountingTLSBackend serves TLS with cert, offering h2 by ALPN when h2
// is set and only http/1.1 otherwise.
func newCountingTLSBackend(t testing.TB, cert tls.Certificate, h2 bool, h http.Handler) *countingBackend {
	b := unstartedCountingBackend(h)
	b.EnableHTTP2 = h2
	b.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	b.StartTLS()
	t.Cleanup(b.Close)
	return b
}

func unstartedCountingBackend(h http.Handler) *countingBackend {
	b := &countingBackend{}
	b.Server = httptest.NewUnstartedServer(h)
	b.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			b.accepted.Add(1)
		case http.StateClosed, http.StateHijacked:
			b.closed.Add(1)
		}
	}
	return b
}

// newH2CBackend serves h with HTTP/2 prior knowledge only.
func newH2CBackend(t testing.TB, h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func h1Client() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: safety}
}

func h2cClient() *http.Client {
	return &http.Client{Timeout: safety, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func get(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", req.URL, err)
	}
	return resp, string(body)
}

func mustRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// refusedAddr is a loopback address nothing listens on any more.
func refusedAddr(t testing.TB) string { return nettest.RefusedAddr(t) }

// newCert makes a self-signed certificate for names (and 127.0.0.1) and a
// pool that trusts it.
func newCert(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// waitFor polls cond until it holds, failing after the safety limit.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(safety)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusError(err error) int {
	var pe *proxy.Error
	if errors.As(err, &pe) {
		return pe.Status
	}
	return 0
}

// dialRaw opens a plain TCP connection to addr for a client that
// misbehaves on purpose; it gives up after limit, so that a proxy that
// never answers fails the test quickly.
func dialRaw(t testing.TB, addr string, limit time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(limit))
	return c, bufio.NewReader(c)
}

// within receives from ch, failing the test if nothing comes within limit.
func within[T any](t testing.TB, what string, limit time.Duration, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(limit):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// scriptedBackend is a raw TCP peer: serve runs on each connection it
// accepts, with the connection's number (from 1), for backends that must
// control every byte and the connection's fate.
type scriptedBackend struct {
	peer             proxy.Peer
	accepted, closed atomic.Int64
}

func newScriptedBackend(t testing.TB, serve func(n int64, c net.Conn, br *bufio.Reader)) *scriptedBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b := &scriptedBackend{peer: proxy.Peer{Address: l.Addr().String(), Scheme: proxy.SchemeHTTP1}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := b.accepted.Add(1)
			go func() {
				defer b.closed.Add(1)
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return b
}

// answerEach serves request after request on a connection with the raw
// response answer gives (the request body read first); closing after it
// when answer says so, and hanging up without one when it is empty.
func answerEach(answer func(conn int64, req *http.Request, body []byte) (resp string, closeAfter bool)) func(int64, net.Conn, *bufio.Reader) {
	return func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			resp, closeAfter := answer(n, req, body)
			if resp == "" {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil || closeAfter {
				return
			}
		}
	}
}
