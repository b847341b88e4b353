package server_test

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/nettest"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// maxAllocsPerConn bounds the allocations of a cleartext connection that
// makes one request and closes (wrk's "Connection: close"): Go's accept
// makes six (the descriptor, the *TCPConn, the two addresses and their
// sockaddrs), the Server three: the count of open connections, its
// connection record (h1conn) and the client's address as the request has
// it. A handler that allocates nothing adds nothing. (The count could be
// part of the h1conn, one allocation less, but a parked connection keeps
// its count: it would keep the whole h1conn, 1 KiB, alive while idle.)
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
	cc := newCloseClient(s.Addr("http").(*net.TCPAddr))
	for range 10 { // warm the pools and the workers
		cc.roundTrip(t)
	}
	if got := testing.AllocsPerRun(200, func() { cc.roundTrip(t) }); got > maxAllocsPerConn {
		t.Errorf("%.1f allocations per connection, want at most %d", got, maxAllocsPerConn)
	}
	if got := bytesPerRun(200, func() { cc.roundTrip(t) }); got > maxBytesPerConn {
		t.Errorf("%d bytes allocated per connection, want at most %d", got, maxBytesPerConn)
	}
}

// maxBytesPerConn bounds what the allocations of maxAllocsPerConn come
// to: Go's accept's 0.4 KiB and the h1conn's size class (1 KiB), 1408
// bytes, with some room for a pool refilled. What only a request under
// way needs is lent with the buffers (see connStore): with it inside,
// the h1conn took 2 KiB, 2432 bytes per connection in all, and the
// collector ran that much more often.
const maxBytesPerConn = 1500

// bytesPerRun is the bytes f allocates per run, as testing.AllocsPerRun
// counts allocations: averaged over runs, on one P.
func bytesPerRun(runs int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.GC() // none in the runs: it would empty the pools
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

func newCloseClient(a *net.TCPAddr) closeClient {
	return closeClient{nettest.NewCloseClient(a, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", safety)}
}

// closeClient checks the responses of a nettest.CloseClient.
type closeClient struct{ *nettest.CloseClient }

func (cc closeClient) roundTrip(t *testing.T) {
	if resp := cc.RoundTrip(t); !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(resp, []byte("\r\n\r\nhi")) {
		t.Fatalf("response %q", resp)
	}
}
