package proxy_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// The allocations TestProxyH1SteadyStateAllocs allows per request.
const maxAllocsGet, maxAllocsPost = 0, 1

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

// BenchmarkProxyH1Raw is BenchmarkProxyH1 with a raw TCP client and
// backend that allocate nothing per request, so that allocs/op are the
// proxy's own (its server side, phases, upstream client).
func BenchmarkProxyH1Raw(b *testing.B) {
	rc := newRawChain(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		rc.roundTrip(b)
	}
}

// BenchmarkProxyH1RawPost is BenchmarkProxyH1Raw with a 1 KiB request body.
func BenchmarkProxyH1RawPost(b *testing.B) {
	rc := newRawChain(b, bytes.Repeat([]byte("a"), 1<<10))
	b.ReportAllocs()
	for b.Loop() {
		rc.roundTrip(b)
	}
}

// TestProxyH1SteadyStateAllocs keeps the keep-alive HTTP/1 path free of
// allocations per request, once the connections and pools are warm.
func TestProxyH1SteadyStateAllocs(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	for _, tc := range []struct {
		name     string
		body     []byte
		readsMap bool
		max      float64
	}{
		{"GET", nil, false, maxAllocsGet},
		{"POST", bytes.Repeat([]byte("a"), 1<<10), false, maxAllocsPost},
		{"GET with a header map", nil, true, maxAllocsGet}, // phases that read Request.Header
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRawChainOf(t, tc.body, tc.readsMap)
			for range 10 { // warm the pools
				rc.roundTrip(t)
			}
			if got := testing.AllocsPerRun(200, func() { rc.roundTrip(t) }); got > tc.max {
				t.Errorf("%.1f allocations per proxied request, want at most %v", got, tc.max)
			}
		})
	}
}

// rawChain is a raw client, the proxy and a raw backend that answers
// every request with benchBody, all on loopback.
type rawChain struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	head h1.Head
	body []byte
}

func newRawChain(t testing.TB, body []byte) *rawChain { return newRawChainOf(t, body, false) }

// newRawChainOf is newRawChain with phases that read Request.Header
// (the server makes them one) when readsMap.
func newRawChainOf(t testing.TB, body []byte, readsMap bool) *rawChain {
	backend := newScriptedBackend(t, rawAnswer)
	conn, err := net.Dial("tcp", startRawProxy(t, backend, readsMap).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "GET /bench HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: raw\r\nAccept: */*\r\n\r\n"
	if body != nil {
		req = "POST /bench HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: raw\r\nAccept: */*\r\n" +
			"Content-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	}
	return &rawChain{conn: conn, br: bufio.NewReader(conn), req: []byte(req), body: make([]byte, len(benchBody))}
}

// startRawProxy serves the proxy, sending every request to backend, and
// returns its address.
func startRawProxy(t testing.TB, backend *scriptedBackend, readsMap bool) net.Addr {
	p := proxy.New[struct{}](&benchPhases{peer: backend.peer, readsMap: readsMap}, proxy.Options{Logger: logtest.Logger(t)})
	srv := server.New(server.Options{Logger: logtest.Logger(t)},
		server.Service{Name: "bench", Handler: p, Listeners: []server.Listener{{Name: "main", Addr: "127.0.0.1:0"}}})
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr("main")
}

// roundTrip sends the request and reads the whole response; it allocates
// nothing itself.
func (rc *rawChain) roundTrip(t testing.TB) {
	rc.conn.SetDeadline(time.Now().Add(safety))
	if _, err := rc.conn.Write(rc.req); err != nil {
		t.Fatal(err)
	}
	if err := h1.ReadResponse(rc.br, &rc.head, 4096, "GET"); err != nil {
		t.Fatal(err)
	}
	if rc.head.Status != 200 || rc.head.Framing != h1.Length || rc.head.ContentLength != int64(len(benchBody)) {
		t.Fatalf("status %d, framing %d, length %d", rc.head.Status, rc.head.Framing, rc.head.ContentLength)
	}
	if _, err := io.ReadFull(rc.br, rc.body); err != nil {
		t.Fatal(err)
	}
}

// benchPhases sends every request to peer and allocates nothing, unlike
// testPhases, which copies the peer and makes a context per request.
// Like the router's, they read no Request.Header unless readsMap.
type benchPhases struct {
	peer     proxy.Peer
	readsMap bool
}

func (p *benchPhases) ReadsRequestHeader() bool { return p.readsMap }

func (p *benchPhases) NewCtx() struct{}                                     { return struct{}{} }
func (p *benchPhases) RequestFilter(*proxy.Session, struct{}) (bool, error) { return false, nil }
func (p *benchPhases) UpstreamPeer(*proxy.Session, struct{}) (*proxy.Peer, error) {
	return &p.peer, nil
}
func (p *benchPhases) UpstreamRequestFilter(*proxy.Session, *proxy.Request, struct{}) error {
	return nil
}
func (p *benchPhases) FailToConnect(*proxy.Session, *proxy.Peer, error, struct{}) bool { return false }
func (p *benchPhases) ResponseFilter(*proxy.Session, *proxy.Response, struct{}) error  { return nil }
func (p *benchPhases) Logging(*proxy.Session, error, struct{})                         {}

// rawAnswer serves keep-alive requests with a fixed response, discarding
// any request body (Content-Length framed), without allocating.
func rawAnswer(_ int64, c net.Conn, br *bufio.Reader) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(benchBody)) + "\r\n\r\n" + string(benchBody))
	var h h1.Head
	for {
		if err := h1.ReadRequest(br, &h, 8192); err != nil {
			return
		}
		if h.Framing == h1.Length {
			if _, err := br.Discard(int(h.ContentLength)); err != nil {
				return
			}
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}
