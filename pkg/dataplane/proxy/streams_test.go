package proxy_test

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/internal/allocstest"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// maxAllocsStream is what TestProxyStreamAllocs allows per request: the
// request's context watch (context.AfterFunc on a context of its own),
// the exchange's context and the upstream request carrying it, and the
// upstream response's text, which the writer's header map keeps (see
// keepText).
const maxAllocsStream = 7

// TestProxyStreamAllocs keeps requests served without a per-connection
// slot (HTTP/2 streams) on pooled exchanges: the upstream request's
// header map, the upstream response and its header are reused from one
// request to the next, as on a keep-alive HTTP/1 connection.
func TestProxyStreamAllocs(t *testing.T) {
	sc := warmStreamChain(t)
	sc.refill(t, 201) // AllocsPerRun's runs and its warm-up
	if got := testing.AllocsPerRun(200, func() { sc.serve(t) }); got > maxAllocsStream {
		t.Errorf("%.1f allocations per proxied stream, want at most %d", got, maxAllocsStream)
	}
}

// warmStreamChain is a streamChain whose pools served a few requests,
// for counting what a request allocates; it skips the test in a build
// whose counts mean nothing.
func warmStreamChain(t *testing.T) *streamChain {
	t.Helper()
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	sc := newStreamChain(t)
	sc.refill(t, 10)
	for range 10 { // warm the pools
		sc.serve(t)
	}
	return sc
}

// BenchmarkProxyStream measures one request as an HTTP/2 server hands it
// over (a writer per stream, a context per stream) through the proxy to a
// raw loopback backend.
func BenchmarkProxyStream(b *testing.B) {
	sc := newStreamChain(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if sc.next == len(sc.reqs) {
			b.StopTimer()
			sc.refill(b, 256)
			b.StartTimer()
		}
		sc.serve(b)
	}
}

// streamChain is the proxy in front of a raw backend, fed requests
// directly, each with a context of its own, made ahead (refill) so that
// what is measured allocates nothing itself.
type streamChain struct {
	p    http.Handler
	reqs []*http.Request
	next int
	w    streamWriter
}

func newStreamChain(t testing.TB) *streamChain {
	backend := newScriptedBackend(t, rawAnswer)
	p := proxy.New[struct{}](&benchPhases{peer: backend.peer}, proxy.Options{Logger: logtest.Logger(t)})
	return &streamChain{p: p, w: streamWriter{h: http.Header{}}}
}

func (sc *streamChain) serve(t testing.TB) {
	r := sc.reqs[sc.next]
	sc.reqs[sc.next] = nil
	sc.next++
	clear(sc.w.h)
	sc.w.status, sc.w.n = 0, 0
	sc.p.ServeHTTP(&sc.w, r)
	if sc.w.status != http.StatusOK || sc.w.n != len(benchBody) {
		t.Fatalf("status %d, %d body bytes", sc.w.status, sc.w.n)
	}
}

// refill makes the next n requests, as an HTTP/2 server makes one per
// stream.
func (sc *streamChain) refill(t testing.TB, n int) {
	sc.reqs, sc.next = sc.reqs[:0], 0
	for range n {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		r := (&http.Request{
			Method: "GET", URL: &url.URL{Path: "/bench"}, Proto: "HTTP/2.0", ProtoMajor: 2, Host: "bench.example",
			Header:     http.Header{"User-Agent": {"h2"}, "Accept": {"*/*"}},
			RemoteAddr: "127.0.0.1:4321", RequestURI: "/bench", Body: http.NoBody,
		}).WithContext(ctx)
		sc.reqs = append(sc.reqs, r)
	}
}

// streamWriter is a ResponseWriter without a per-connection slot.
type streamWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *streamWriter) Header() http.Header { return w.h }
func (w *streamWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *streamWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}
func (w *streamWriter) Flush() {}

// maxBytesStream bounds the bytes of those allocations: the exchange's
// context is made per stream (its parent is the stream's), the request
// prototype carrying it is the exchange's, rewritten (it was 350 bytes
// of the ~4 KiB an h2c request allocated: issue 14).
const maxBytesStream = 768

// TestProxyStreamBytes keeps what an HTTP/2 stream allocates in the proxy
// small in bytes, which set how often the GC runs. The count is the
// process's: goroutines an earlier test left (a body still draining) add
// to a batch, never take from it, so the least of a few batches is the
// streams' own.
func TestProxyStreamBytes(t *testing.T) {
	sc := warmStreamChain(t)
	const n, batches = 200, 5
	least := uint64(math.MaxUint64)
	for range batches {
		sc.refill(t, n)
		least = min(least, allocstest.Bytes(func() {
			for range n {
				sc.serve(t)
			}
		}))
	}
	t.Logf("%d bytes per proxied stream", least/n)
	if least/n > maxBytesStream {
		t.Errorf("%d bytes allocated per proxied stream, want at most %d", least/n, maxBytesStream)
	}
}
