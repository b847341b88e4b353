package proxy_test

import (
	"bytes"
	"net"
	"syscall"
	"testing"

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

// connCloseClient connects, sends one request with "Connection: close",
// reads the response to the end of file and closes, with raw system calls.
type connCloseClient struct {
	backend *scriptedBackend
	addr    syscall.SockaddrInet4
	req     []byte
	buf     []byte
	want    []byte // the response ends with it
}

func newConnCloseClient(t testing.TB) *connCloseClient {
	backend := newScriptedBackend(t, rawAnswer)
	ta := startRawProxy(t, backend, false).(*net.TCPAddr)
	cc := &connCloseClient{backend: backend, buf: make([]byte, 4096), want: benchBody,
		req: []byte("GET /bench HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: raw\r\nAccept: */*\r\nConnection: close\r\n\r\n")}
	cc.addr.Port = ta.Port
	copy(cc.addr.Addr[:], ta.IP.To4())
	return cc
}

func (cc *connCloseClient) roundTrip(t testing.TB) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(safety))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Connect(fd, &cc.addr); err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Write(fd, cc.req); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := syscall.Read(fd, cc.buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		if m == 0 {
			break
		}
		n += m
		if n == len(cc.buf) {
			t.Fatalf("response longer than %d bytes", n)
		}
	}
	if !bytes.HasPrefix(cc.buf[:n], []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(cc.buf[:n], cc.want) {
		t.Fatalf("response %q", cc.buf[:n])
	}
}
