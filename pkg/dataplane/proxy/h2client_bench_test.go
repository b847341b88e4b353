package proxy_test

import (
	"net/http"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// BenchmarkProxyH2CUpstream is BenchmarkProxyH1 to an h2c peer: the
// upstream leg goes through the HTTP/2 client.
func BenchmarkProxyH2CUpstream(b *testing.B) {
	backend := newH2CBackend(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(benchBody)
	}))
	r := newRig(b, &testPhases{quiet: true, peers: []proxy.Peer{peerOf(b, backend, proxy.SchemeH2C)}}, proxy.Options{}, nil)
	b.ResetTimer()
	requestLoop(b, r.url+"/bench", nil)
}
