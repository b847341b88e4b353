//go:build unix

package nettest

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// CloseClient makes one request per connection, as a client sending
// "Connection: close" does: it connects, sends its request, reads the
// response to the end of file and closes, with raw system calls that
// allocate nothing, so that testing.AllocsPerRun counts the server's
// allocations per connection alone.
type CloseClient struct {
	addr    syscall.SockaddrInet4
	req     []byte
	buf     []byte
	timeout syscall.Timeval
}

// NewCloseClient sends req to the IPv4 address a, and fails a read that
// waits longer than timeout.
func NewCloseClient(a *net.TCPAddr, req string, timeout time.Duration) *CloseClient {
	cc := &CloseClient{req: []byte(req), buf: make([]byte, 4096), timeout: syscall.NsecToTimeval(int64(timeout))}
	cc.addr.Port = a.Port
	copy(cc.addr.Addr[:], a.IP.To4())
	return cc
}

// RoundTrip makes one connection and returns the whole response, valid
// until the next call.
func (cc *CloseClient) RoundTrip(t testing.TB) []byte {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &cc.timeout); err != nil {
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
			return cc.buf[:n]
		}
		if n += m; n == len(cc.buf) {
			t.Fatalf("response longer than %d bytes", n)
		}
	}
}
