package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// HTTP/2 peers are served by x/net/http2's Transport itself: net/http's
// Transport, with its pool, protocol switch and per-request bookkeeping
// in front of it, is in use for no peer.
func TestH2PeersUseNoNetHTTPTransport(t *testing.T) {
	for _, scheme := range []Scheme{SchemeH2C, SchemeHTTPS} {
		k := peerKey{address: "127.0.0.1:1", scheme: scheme, idleTimeout: time.Minute}
		up := newUpstream(Peer{Address: k.address, Scheme: scheme}, k, Options{MaxIdleConnsPerPeer: 2})
		clients := []any{up.rt, up.upgrades}
		if sw, ok := up.rt.(*alpnSwitch); ok {
			clients = append(clients, sw.h1, sw.h2)
		}
		for _, c := range clients {
			if _, ok := c.(*http.Transport); ok {
				t.Errorf("scheme %d: a net/http Transport serves the peer", scheme)
			}
		}
	}
}

// An HTTPS peer that stops offering h2 is followed back to HTTP/1.1, and
// the connection whose handshake told is not wasted: the HTTP/1.1 client
// pools it and the next request takes it.
func TestHTTPSPeerFollowedBackFromH2ToHTTP1(t *testing.T) {
	var h1only atomic.Bool
	var accepted atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	ts.EnableHTTP2 = true
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	ts.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		if !h1only.Load() {
			return nil, nil
		}
		c := ts.TLS.Clone()
		c.GetConfigForClient, c.NextProtos = nil, []string{"http/1.1"}
		return c, nil
	}}
	ts.StartTLS()
	t.Cleanup(ts.Close)

	k := peerKey{address: ts.Listener.Addr().String(), scheme: SchemeHTTPS, insecure: true,
		connectTimeout: 10 * time.Second, responseTimeout: 10 * time.Second, idleTimeout: time.Minute}
	up := newUpstream(Peer{Address: k.address, Scheme: SchemeHTTPS}, k, Options{MaxIdleConnsPerPeer: 2})
	t.Cleanup(up.closeIdle)
	proto := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+k.address+"/", nil)
		resp, err := up.rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if p := proto(); p != "HTTP/2.0" {
		t.Fatalf("first request in %s, want HTTP/2.0", p)
	}
	h1only.Store(true)
	up.rt.(*alpnSwitch).h2.CloseIdleConnections() // the next request dials
	for i := range 2 {
		if p := proto(); p != "HTTP/1.1" {
			t.Fatalf("request %d after the peer dropped h2: %s, want HTTP/1.1", i+2, p)
		}
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the one that told the peer dropped h2 serves on)", n)
	}
}

// Requests to HTTPS peers go out in full TLS records, as responses to
// clients do: crypto/tls's dynamic record sizing would send the first 128
// KiB of each connection in records of one TCP segment, a write(2) each.
func TestUpstreamTLSUsesFullRecords(t *testing.T) {
	if c := upstreamTLS(peerKey{address: "backend.test:443"}); !c.DynamicRecordSizingDisabled {
		t.Error("dynamic record sizing is on for HTTPS peers")
	}
}
