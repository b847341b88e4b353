package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

// backend is a loopback HTTP server that names itself in every response.
func backend(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func snapshotTo(version uint64, addrs ...string) *snapshot.Snapshot {
	var eps []snapshot.Endpoint
	for _, a := range addrs {
		eps = append(eps, snapshot.Endpoint{Address: a})
	}
	return &snapshot.Snapshot{Version: version,
		Hosts:     []snapshot.VirtualHost{{Name: "swap.test", Routes: []snapshot.Route{{Path: "/", Upstream: "u"}}}},
		Upstreams: []snapshot.Upstream{{Name: "u", Endpoints: eps, Policy: snapshot.PolicyRoundRobin}},
	}
}

func start(t *testing.T, opts Options, first *snapshot.Snapshot) *DataPlane {
	t.Helper()
	dp := New(opts)
	if err := dp.Apply(first); err != nil {
		t.Fatal(err)
	}
	if err := dp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	return dp
}

// TestSwapUnderLoad publishes thousands of snapshots with changing pools
// while clients send requests: no request may fail because of a swap.
func TestSwapUnderLoad(t *testing.T) {
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	sets := [][]string{{a, b}, {b, c}, {c}, {a, b, c}, {a}}
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0"}, snapshotTo(1, sets[0]...))
	url := "http://" + dp.Addr(ListenerHTTP).String() + "/x"

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for n := 0; n < 50000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := getOK(client, url, "swap.test"); err != nil {
					failed.Add(1)
					t.Log(err)
				}
				sent.Add(1)
			}
		}()
	}
	swaps := 0
	for v := uint64(2); v < 3000; v++ {
		if err := dp.Apply(snapshotTo(v, sets[int(v)%len(sets)]...)); err != nil {
			t.Fatal(err)
		}
		swaps++
		time.Sleep(300 * time.Microsecond) // let requests interleave with swaps
	}
	close(stop)
	wg.Wait()
	t.Logf("%d swaps, %d requests, %d failed", swaps, sent.Load(), failed.Load())
	if failed.Load() != 0 || sent.Load() < 500 {
		t.Fatalf("%d of %d requests failed during swaps", failed.Load(), sent.Load())
	}
}

func getOK(client *http.Client, url, host string) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return nil
}

// TestTLSBySNI serves two hosts over TLS with their own certificates and
// checks h2 is negotiated by ALPN and every host gets its certificate.
func TestTLSBySNI(t *testing.T) {
	s := snapshotTo(1, backend(t, "tls-backend"))
	s.Hosts = append(s.Hosts, snapshot.VirtualHost{Name: "*.wild.test", Routes: []snapshot.Route{{Path: "/", Upstream: "u"}}})
	s.Certificates = []snapshot.Certificate{certFor(t, "swap.test"), certFor(t, "*.wild.test")}
	fallback := certFor(t, "fallback.test")
	s.DefaultCertificate = &fallback
	dp := start(t, Options{HTTPSAddr: "127.0.0.1:0"}, s)
	addr := dp.Addr(ListenerHTTPS).String()
	for sni, want := range map[string]string{"swap.test": "swap.test", "a.wild.test": "*.wild.test", "other.test": "fallback.test"} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("%s: %v", sni, err)
		}
		st := conn.ConnectionState()
		conn.Close()
		if got := st.PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %q got certificate %q, want %q", sni, got, want)
		}
		if st.NegotiatedProtocol != "h2" {
			t.Errorf("SNI %q negotiated %q, want h2", sni, st.NegotiatedProtocol)
		}
	}
	old, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "swap.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Error("a TLS 1.1 handshake succeeded; only 1.2+ is allowed")
	}
}

func certFor(t *testing.T, name string) snapshot.Certificate {
	t.Helper()
	c, err := snapshottest.SelfSigned(name, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// With no certificate for the name and no default, the handshake still
// completes with Baton's self-signed certificate, which no client trusts:
// the client sees an untrusted certificate naming Baton, not an alert, and
// a client that accepts it gets the route (here the default backend's 404).
func TestTLSWithoutCertificateServesTheFakeOne(t *testing.T) {
	dp := start(t, Options{HTTPSAddr: "127.0.0.1:0"}, snapshotTo(1, backend(t, "tls-backend")))
	addr := dp.Addr(ListenerHTTPS).String()
	if _, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "nobody.test"}); !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("verifying client: %v, want a certificate verification error", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != router.FakeCertificateName || resp.StatusCode != http.StatusNotFound {
		t.Errorf("got %d with certificate %q, want 404 with %q", resp.StatusCode, cn, router.FakeCertificateName)
	}
}

// TestMoreListeners: each of MoreHTTPAddrs is a listener of its own
// serving the routes as HTTPAddr does (a Gateway listener on port 8080
// next to one on 80 needs both bound).
func TestMoreListeners(t *testing.T) {
	extra := []string{"127.0.0.1:0", "127.0.0.2:0"}
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0", MoreHTTPAddrs: extra}, snapshotTo(1, backend(t, "a")))
	client := &http.Client{Timeout: 5 * time.Second}
	for _, a := range extra {
		bound := dp.Addr(ListenerHTTP + "@" + a)
		if bound == nil {
			t.Fatalf("no listener for %s", a)
		}
		if bound.String() == dp.Addr(ListenerHTTP).String() {
			t.Fatalf("%s is the main listener", a)
		}
		if err := getOK(client, "http://"+bound.String()+"/x", "swap.test"); err != nil {
			t.Errorf("through %s: %v", a, err)
		}
	}
}
