package proxy_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// pickByPath routes "/<i>..." to peers[i].
func pickByPath(peers []proxy.Peer) func(*proxy.Session) (*proxy.Peer, error) {
	return func(s *proxy.Session) (*proxy.Peer, error) {
		p := peers[s.Request.URL.Path[1]-'0']
		return &p, nil
	}
}

// Beyond MaxPeers the pool used least recently is closed; the others keep
// their connections.
func TestPeerPoolsBeyondMaxPeersEvictLeastRecentlyUsed(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	backends := []*countingBackend{newCountingBackend(t, ok), newCountingBackend(t, ok), newCountingBackend(t, ok)}
	var peers []proxy.Peer
	for _, b := range backends {
		peers = append(peers, peerOf(t, b.Server, proxy.SchemeHTTP1))
	}
	r := newRig(t, &testPhases{pick: pickByPath(peers)}, proxy.Options{MaxPeers: 2}, nil)
	client := h1Client()
	for _, path := range []string{"/0", "/1", "/0", "/2"} { // 1 is the least recent when 2 arrives
		if resp, _ := get(t, client, mustRequest(t, "GET", r.url+path, nil)); resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
	}
	waitFor(t, "the evicted pool to close its connection", func() bool { return backends[1].closed.Load() == 1 })
	get(t, client, mustRequest(t, "GET", r.url+"/0", nil))
	if backends[0].accepted.Load() != 1 || backends[0].closed.Load() != 0 {
		t.Errorf("the recently used pool lost its connection: accepted %d, closed %d",
			backends[0].accepted.Load(), backends[0].closed.Load())
	}
}

// A pool evicted while a request is in flight on it lets the request
// finish, then closes the connection.
func TestEvictedPeerPoolFinishesRequestInFlight(t *testing.T) {
	release := make(chan struct{})
	slow := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "done")
	}))
	fast := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	peers := []proxy.Peer{peerOf(t, slow.Server, proxy.SchemeHTTP1), peerOf(t, fast.Server, proxy.SchemeHTTP1)}
	r := newRig(t, &testPhases{pick: pickByPath(peers)}, proxy.Options{MaxPeers: 1}, nil)

	resp, err := h1Client().Do(mustRequest(t, "GET", r.url+"/0", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	get(t, h1Client(), mustRequest(t, "GET", r.url+"/1", nil)) // evicts the slow peer's pool
	close(release)
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "done" {
		t.Fatalf("request in flight on an evicted pool: %q, %v", body, err)
	}
	waitFor(t, "its connection to close once the request is done", func() bool { return slow.closed.Load() == 1 })
}

// A TLS name that is an IP literal is not sent as SNI (RFC 6066) and the
// certificate is verified against its IP addresses.
func TestHTTPSPeerNamedByIPSendsNoSNI(t *testing.T) {
	cert, pool := newCert(t, "backend.test") // also valid for 127.0.0.1
	snis := make(chan string, 1)
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		snis <- h.ServerName
		return nil, nil
	}}
	backend.StartTLS()
	t.Cleanup(backend.Close)
	addr := backend.Listener.Addr().String()
	r := newRig(t, &testPhases{peers: []proxy.Peer{{Address: addr, Scheme: proxy.SchemeHTTPS, SNI: "127.0.0.1", RootCAs: pool}}}, proxy.Options{}, nil)
	if resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil)); resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 verified by IP address", resp.StatusCode)
	}
	if sni := <-snis; sni != "" {
		t.Errorf("SNI %q sent for an IP literal", sni)
	}
}

// One HTTP/2 client connection may carry many streams at once, each on an
// upstream connection of its own: with the default options they all go
// back to the pool, so that the next burst reuses them instead of dialing
// (a pool smaller than the burst closes and redials the difference every
// time, which cost h2 traffic a third of the proxy's CPU).
func TestH2BurstReusesUpstreamConnections(t *testing.T) {
	const streams, bursts = 100, 2
	var arrived atomic.Int64
	release := [bursts]chan struct{}{make(chan struct{}), make(chan struct{})}
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := arrived.Add(1)
		burst := (n - 1) / streams
		if n%streams == 0 {
			close(release[burst])
		}
		<-release[burst] // every stream of the burst holds an upstream connection at once
		io.WriteString(w, "ok")
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}, quiet: true}, proxy.Options{}, nil)
	client := h2cClient()
	for burst := range bursts {
		if err := concurrentGets(client, r.url, streams); err != nil {
			t.Fatalf("burst %d: %v", burst, err)
		}
	}
	if n := backend.accepted.Load(); n != streams {
		t.Errorf("the backend accepted %d connections for two bursts of %d concurrent streams, want %d (all reused)", n, streams, streams)
	}
}

// concurrentGets sends n GETs at once and reads them whole.
func concurrentGets(c *http.Client, url string, n int) error {
	errs := make(chan error, n)
	for range n {
		go func() {
			resp, err := c.Get(url)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			errs <- err
		}()
	}
	return errors.Join(collect(errs, n)...)
}

func collect(errs <-chan error, n int) []error {
	out := make([]error, 0, n)
	for range n {
		out = append(out, <-errs)
	}
	return out
}
