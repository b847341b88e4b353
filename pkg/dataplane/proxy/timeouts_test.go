package proxy_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// stallingHandler never answers until the test ends or the request is
// given up on, and reports the protocol it was reached with.
func stallingHandler(t *testing.T, protos chan<- string) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

// The response timeout is enforced by the pooled transports, so every
// upstream protocol needs its own proof.
func TestResponseTimeoutIs504OnEveryUpstreamProtocol(t *testing.T) {
	cert, pool := newCert(t, "backend.test")
	cases := map[string]struct {
		scheme proxy.Scheme
		start  func(*httptest.Server)
		proto  string
	}{
		"h2c": {proxy.SchemeH2C, func(ts *httptest.Server) {
			ts.Config.Protocols = new(http.Protocols)
			ts.Config.Protocols.SetUnencryptedHTTP2(true)
			ts.Start()
		}, "HTTP/2.0"},
		"https h2": {proxy.SchemeHTTPS, func(ts *httptest.Server) {
			ts.EnableHTTP2 = true
			ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			ts.StartTLS()
		}, "HTTP/2.0"},
		"https h1": {proxy.SchemeHTTPS, func(ts *httptest.Server) {
			ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			ts.StartTLS()
		}, "HTTP/1.1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			protos := make(chan string, 1)
			backend := httptest.NewUnstartedServer(stallingHandler(t, protos))
			c.start(backend)
			t.Cleanup(backend.Close)
			peer := proxy.Peer{Address: backend.Listener.Addr().String(), Scheme: c.scheme,
				SNI: "backend.test", RootCAs: pool, ResponseTimeout: 100 * time.Millisecond}
			r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
			resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("status %d, want 504", resp.StatusCode)
			}
			if got := <-protos; got != c.proto {
				t.Errorf("upstream reached over %s, want %s", got, c.proto)
			}
			_, logs := r.settle(t)
			if len(logs) != 1 || logs[0].status != 504 || statusError(logs[0].err) != 504 {
				t.Errorf("logs = %+v", logs)
			}
		})
	}
}

// The response timeout starts once the request is written: a client that
// uploads slowly is not an upstream that answers slowly.
func TestSlowUploadIsNotAResponseTimeout(t *testing.T) {
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	}))
	peer := peerOf(t, backend.Server, proxy.SchemeHTTP1)
	peer.ResponseTimeout = 50 * time.Millisecond
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)

	body, upload := io.Pipe()
	go func() {
		upload.Write([]byte("first half, "))
		time.Sleep(4 * peer.ResponseTimeout) // the upload outlasts the response timeout
		upload.Write([]byte("second half"))
		upload.Close()
	}()
	resp, got := get(t, h1Client(), mustRequest(t, "POST", r.url, body))
	if resp.StatusCode != 200 || got != "23 <nil>" {
		t.Fatalf("got %d %q, want the whole upload answered", resp.StatusCode, got)
	}
}
