package server_test

import (
	"bytes"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// maxAllocsPerConn bounds the allocations of a cleartext connection that
// makes one request and closes (wrk's "Connection: close"): Go's accept
// makes six (the descriptor, the *TCPConn, the two addresses and their
// sockaddrs), the Server three: the count of open connections, its
// connection record (h1conn) and the client's address as the request has
// it. A handler that allocates nothing adds nothing. (The count could be
// part of the h1conn, one allocation less, but a parked connection keeps
// its count: it would keep the whole h1conn, 1.8 KiB, alive while idle.)
const maxAllocsPerConn = 9

func TestConnectionAllocations(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	contentType, length, body := []string{"text/plain"}, []string{"2"}, []byte("hi") // the handler allocates nothing
	s := start(t, server.Options{}, cleartext("http", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"], w.Header()["Content-Length"] = contentType, length
		w.Write(body)
	})))
	cc := newCloseClient(t, s.Addr("http").(*net.TCPAddr))
	for range 10 { // warm the pools and the workers
		cc.roundTrip(t)
	}
	if got := testing.AllocsPerRun(200, func() { cc.roundTrip(t) }); got > maxAllocsPerConn {
		t.Errorf("%.1f allocations per connection, want at most %d", got, maxAllocsPerConn)
	}
}

// closeClient connects, sends one request with "Connection: close",
// reads the response to the end of file and closes, with system calls
// that allocate nothing.
type closeClient struct {
	addr syscall.SockaddrInet4
	req  []byte
	buf  []byte
}

func newCloseClient(t *testing.T, a *net.TCPAddr) *closeClient {
	cc := &closeClient{buf: make([]byte, 4096), req: []byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")}
	cc.addr.Port = a.Port
	copy(cc.addr.Addr[:], a.IP.To4())
	return cc
}

func (cc *closeClient) roundTrip(t *testing.T) {
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
		if n += m; n == len(cc.buf) {
			t.Fatalf("response longer than %d bytes", n)
		}
	}
	if !bytes.HasPrefix(cc.buf[:n], []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(cc.buf[:n], []byte("\r\n\r\nhi")) {
		t.Fatalf("response %q", cc.buf[:n])
	}
}
