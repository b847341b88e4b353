package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

var benchBody = []byte("hello, world\n")

func newBenchBackend(b *testing.B) *countingBackend {
	return newCountingBackend(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(benchBody)
	}))
}

// BenchmarkProxyH1 measures one keep-alive HTTP/1.1 request through the
// proxy to a loopback backend. Allocations include the client's and the
// backend's, which run in the same process.
func BenchmarkProxyH1(b *testing.B) {
	backend := newBenchBackend(b)
	r := newRig(b, &testPhases{quiet: true, peers: []proxy.Peer{peerOf(b, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	b.ResetTimer()
	requestLoop(b, r.url+"/bench", nil)
}

// BenchmarkProxyH1Post is BenchmarkProxyH1 with a 1 KiB request body,
// which the proxy streams upstream under its body timeout and size limit.
func BenchmarkProxyH1Post(b *testing.B) {
	backend := newBenchBackend(b)
	r := newRig(b, &testPhases{quiet: true, peers: []proxy.Peer{peerOf(b, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{}, nil)
	b.ResetTimer()
	requestLoop(b, r.url+"/bench", bytes.Repeat([]byte("a"), 1<<10))
}

// BenchmarkDirectH1 is BenchmarkProxyH1 without the proxy: the same client
// and backend talking directly. The difference between the two is what
// the proxy costs (its server side, its upstream client and the phases).
func BenchmarkDirectH1(b *testing.B) {
	backend := newBenchBackend(b)
	requestLoop(b, backend.URL+"/bench", nil)
}

// requestLoop sends keep-alive requests to url for the whole benchmark, a
// GET, or a POST of body if there is one, checking each answer is benchBody.
func requestLoop(b *testing.B, url string, body []byte) {
	client := h1Client()
	req := mustRequest(b, "GET", url, nil)
	if body != nil {
		req = mustRequest(b, "POST", url, bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	b.ReportAllocs()
	for b.Loop() {
		if body != nil {
			req.Body, _ = req.GetBody()
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(benchBody)) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}
