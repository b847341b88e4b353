package proxy_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/baton-dev/baton/pkg/internal/nettest"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// maxAllocsPerConn is what TestProxyH1ConnCloseAllocs allows for a whole
// client connection: accept, one request proxied over a warm upstream
// connection, the response, and the close.
const maxAllocsPerConn = 10

// BenchmarkProxyH1ConnClose is BenchmarkProxyH1Raw with a new client
// connection per request (wrk's "Connection: close"): what accepting,
// setting up and tearing down a connection costs on top of the request.
// The client is made of system calls and allocates nothing.
func BenchmarkProxyH1ConnClose(b *testing.B) {
	cc := newConnCloseClient(b)
	b.ReportAllocs()
	for b.Loop() {
		cc.roundTrip(b)
	}
}

// TestProxyH1ConnCloseAllocs bounds the allocations of a connection that
// makes one request, with the upstream connection kept alive across
// client connections.
func TestProxyH1ConnCloseAllocs(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	cc := newConnCloseClient(t)
	for range 10 { // warm the pools and the upstream connection
		cc.roundTrip(t)
	}
	if got := testing.AllocsPerRun(200, func() { cc.roundTrip(t) }); got > maxAllocsPerConn {
		t.Errorf("%.1f allocations per client connection, want at most %d", got, maxAllocsPerConn)
	}
	if n := cc.backend.accepted.Load(); n != 1 {
		t.Errorf("the proxy opened %d upstream connections, want 1 kept alive across client connections", n)
	}
}

// connCloseClient is a raw client with a new connection per request
// (nettest.CloseClient) in front of a proxy with a kept-alive upstream.
type connCloseClient struct {
	*nettest.CloseClient
	backend *scriptedBackend
}

func newConnCloseClient(t testing.TB) *connCloseClient {
	backend := newScriptedBackend(t, rawAnswer)
	ta := startRawProxy(t, backend, false).(*net.TCPAddr)
	req := "GET /bench HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: raw\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	return &connCloseClient{CloseClient: nettest.NewCloseClient(ta, req, safety), backend: backend}
}

func (cc *connCloseClient) roundTrip(t testing.TB) {
	if resp := cc.RoundTrip(t); !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(resp, benchBody) {
		t.Fatalf("response %q", resp)
	}
}
