package proxy_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// BenchmarkProxyH1 measures one keep-alive HTTP/1.1 request through the
// proxy to a loopback backend. Allocations include the client's and the
// backend's, which run in the same process.
func BenchmarkProxyH1(b *testing.B) {
	body := []byte("hello, world\n")
	backend := newCountingBackend(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	r := newRig(b, &testPhases{quiet: true, peers: []proxy.Peer{peerOf(b, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	client := h1Client()
	req := mustRequest(b, "GET", r.url+"/bench", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(body)) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}

// BenchmarkDirectH1 is BenchmarkProxyH1 without the proxy: the same client
// and backend talking directly. The difference between the two is what
// the proxy costs (its server side, its upstream client and the phases).
func BenchmarkDirectH1(b *testing.B) {
	body := []byte("hello, world\n")
	backend := newCountingBackend(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	client := h1Client()
	req := mustRequest(b, "GET", backend.URL+"/bench", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(body)) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}
