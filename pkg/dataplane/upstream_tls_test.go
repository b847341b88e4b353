package dataplane

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// tlsBackend is an HTTPS backend (h2 and HTTP/1.1 by ALPN) that answers
// with the Host it got and counts the TLS handshakes and connections.
type tlsBackend struct {
	srv        *httptest.Server
	addr       string
	caPEM      []byte // its self-signed certificate, to trust it
	handshakes atomic.Int64
	closed     atomic.Int64

	mu   sync.Mutex
	snis map[string]int
}

func newTLSBackend(t *testing.T, name string) *tlsBackend {
	t.Helper()
	sc := certFor(t, name)
	pair, err := tls.X509KeyPair(sc.CertPEM, sc.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	b := &tlsBackend{caPEM: sc.CertPEM, snis: map[string]int{}}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host)
	}))
	b.srv.EnableHTTP2 = true
	b.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	b.srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, GetConfigForClient: b.hello}
	b.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			b.closed.Add(1)
		}
	}
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	b.addr = b.srv.Listener.Addr().String()
	return b
}

func (b *tlsBackend) hello(h *tls.ClientHelloInfo) (*tls.Config, error) {
	b.handshakes.Add(1)
	b.mu.Lock()
	b.snis[h.ServerName]++
	b.mu.Unlock()
	return nil, nil
}

func (b *tlsBackend) serverNames() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.snis))
	for k, v := range b.snis {
		out[k] = v
	}
	return out
}

// open is the number of connections the backend has not seen closed.
func (b *tlsBackend) open() int64 { return b.handshakes.Load() - b.closed.Load() }

// httpsSnapshot routes host to one HTTPS upstream at b that trusts b's
// certificate and derives the TLS name from the request.
func httpsSnapshot(version uint64, host string, b *tlsBackend) *snapshot.Snapshot {
	return &snapshot.Snapshot{Version: version,
		Hosts: []snapshot.VirtualHost{{Name: host, Routes: []snapshot.Route{{Path: "/", Upstream: "u"}}}},
		Upstreams: []snapshot.Upstream{{Name: "u", Endpoints: []snapshot.Endpoint{{Address: b.addr}},
			Protocol: snapshot.ProtocolHTTPS, TLS: snapshot.UpstreamTLS{CAPEM: b.caPEM}}},
	}
}

// fetch sends GET / with host through the data plane and returns the body.
func fetch(t *testing.T, client *http.Client, dp *DataPlane, host string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+dp.Addr(ListenerHTTP).String()+"/", nil)
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Host %q: %v", host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Host %q: status %d: %s", host, resp.StatusCode, body)
	}
	return string(body)
}

// waitUntil polls cond, failing after a bound only a broken data plane reaches.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// caseVariant spells name with the letters bits selects in upper case.
func caseVariant(name string, bits int) string {
	b := []byte(name)
	letter := 0
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			if bits&(1<<letter) != 0 {
				b[i] -= 'a' - 'A'
			}
			letter++
		}
	}
	return string(b)
}

// The TLS name taken from the Host header is normalised like the Host is
// for routing, so spellings of one name share one upstream connection.
func TestHostVariantsShareOneUpstreamTLSConnection(t *testing.T) {
	b := newTLSBackend(t, "shop.test")
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0"}, httpsSnapshot(1, "shop.test", b))
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 64 {
		host := caseVariant("shop.test", i>>1)
		if i&1 == 1 {
			host += "."
		}
		if i%3 == 0 {
			host += ":80"
		}
		if got := fetch(t, client, dp, host); got != host {
			t.Fatalf("upstream got Host %q, want %q as sent", got, host)
		}
	}
	if n := b.handshakes.Load(); n != 1 {
		t.Errorf("64 spellings of one host opened %d TLS connections, want 1 (SNIs %v)", n, b.serverNames())
	}
	if snis := b.serverNames(); len(snis) != 1 || snis["shop.test"] != 1 {
		t.Errorf("SNIs sent = %v, want only shop.test", snis)
	}
}

// A wildcard host lets clients pick any number of names, each its own TLS
// name upstream; the pools they open are bounded and the least recently
// used are closed.
func TestWildcardHostsKeepUpstreamPoolsBounded(t *testing.T) {
	const maxPeers, hosts = 32, 1000
	b := newTLSBackend(t, "*.wild.test")
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0", Proxy: proxy.Options{MaxPeers: maxPeers}},
		httpsSnapshot(1, "*.wild.test", b))
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range hosts {
		fetch(t, client, dp, fmt.Sprintf("h%d.wild.test", i))
	}
	if n := b.handshakes.Load(); n != hosts {
		t.Fatalf("%d handshakes for %d names; the test measures nothing", n, hosts)
	}
	waitUntil(t, fmt.Sprintf("at most %d upstream connections open", maxPeers), func() bool {
		return b.open() <= maxPeers
	})
	// A name whose pool was evicted still works.
	fetch(t, client, dp, "h0.wild.test")
}

// Pools are retired when the peer they were built for is no longer what
// any upstream produces: a new CA bundle or new timeouts, not only an
// endpoint that went away. Unchanged peers keep their connections.
func TestChangedUpstreamTLSOrTimeoutsRetiresItsPool(t *testing.T) {
	b := newTLSBackend(t, "shop.test")
	other := newTLSBackend(t, "other.test")
	s := httpsSnapshot(1, "shop.test", b)
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0"}, s)
	client := &http.Client{Timeout: 10 * time.Second}
	fetch(t, client, dp, "shop.test")

	// Another upstream coming and going leaves this pool alone.
	s.Version = 2
	s.Upstreams = append(s.Upstreams, snapshot.Upstream{Name: "v", Endpoints: []snapshot.Endpoint{{Address: "127.0.0.1:9"}}})
	mustApply(t, dp, s)
	fetch(t, client, dp, "shop.test")
	if n := b.handshakes.Load(); n != 1 || b.closed.Load() != 0 {
		t.Fatalf("an unrelated change reconnected: %d handshakes, %d closed", n, b.closed.Load())
	}

	changes := []struct {
		name   string
		change func(u *snapshot.Upstream)
	}{
		{"CA bundle", func(u *snapshot.Upstream) { u.TLS.CAPEM = append(append([]byte{}, b.caPEM...), other.caPEM...) }},
		{"idle timeout", func(u *snapshot.Upstream) { u.Timeouts.Idle = time.Minute }},
		{"connect timeout", func(u *snapshot.Upstream) { u.Timeouts.Connect = time.Second }},
		{"response timeout", func(u *snapshot.Upstream) { u.Timeouts.Response = 20 * time.Second }},
		{"verification", func(u *snapshot.Upstream) { u.TLS.InsecureSkipVerify = true }},
	}
	for i, c := range changes {
		s.Version++
		c.change(&s.Upstreams[0])
		mustApply(t, dp, s)
		waitUntil(t, "the pool of the old "+c.name+" to close its connection", func() bool {
			return b.closed.Load() == int64(i+1)
		})
		fetch(t, client, dp, "shop.test")
		if n := b.handshakes.Load(); n != int64(i+2) {
			t.Fatalf("after changing the %s: %d handshakes, want %d", c.name, n, i+2)
		}
	}
}

func mustApply(t *testing.T, dp *DataPlane, s *snapshot.Snapshot) {
	t.Helper()
	if err := dp.Apply(s); err != nil {
		t.Fatal(err)
	}
}

// A Host rewrite with a port names the server without it: the port is not
// part of a TLS name, and the Host header sent keeps it.
func TestHostRewriteWithPortVerifiesTheName(t *testing.T) {
	b := newTLSBackend(t, "name.test")
	s := httpsSnapshot(1, "front.test", b)
	s.Upstreams[0].HostRewrite = "name.test:8443"
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0"}, s)
	if got := fetch(t, &http.Client{Timeout: 10 * time.Second}, dp, "front.test"); got != "name.test:8443" {
		t.Errorf("upstream got Host %q, want name.test:8443", got)
	}
	if snis := b.serverNames(); len(snis) != 1 || snis["name.test"] != 1 {
		t.Errorf("SNIs sent = %v, want name.test", snis)
	}
}
