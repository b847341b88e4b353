package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newH2CServer is a cleartext server that speaks HTTP/2 with prior
// knowledge and nothing else, like a gRPC server.
func newH2CServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestProbeH2C(t *testing.T) {
	var http2 atomic.Int64
	srv := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && r.URL.Path == "/healthz" {
			http2.Add(1)
		}
	}))
	if err := Probe(context.Background(), NewClient(), hostPort(srv), Config{Path: "/healthz"}); err == nil {
		t.Fatal("an HTTP/1.1 check of an HTTP/2-only server passed; the test server is not what it claims")
	}
	if err := Probe(context.Background(), NewClient(), hostPort(srv), Config{Path: "/healthz", Protocol: H2C}); err != nil {
		t.Fatalf("H2C check of a healthy h2c server: %v", err)
	}
	if http2.Load() != 1 {
		t.Fatalf("server saw %d HTTP/2 checks, want 1", http2.Load())
	}
}

// grpcHealthServer answers grpc.health.v1.Health/Check for one service
// with a status the test sets, checking each call the way a gRPC server
// would. Its encoding is written out byte by byte here, independent of
// the checker's encoder.
type grpcHealthServer struct {
	t       *testing.T
	service string
	answer  atomic.Value // string: SERVING, NOT_SERVING, UNIMPLEMENTED, EMPTY
	calls   atomic.Int64
}

func newGRPCHealthServer(t *testing.T, service string) *grpcHealthServer {
	g := &grpcHealthServer{t: t, service: service}
	g.answer.Store("SERVING")
	return g
}

func (g *grpcHealthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.calls.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the checker gave up on this probe (its timeout, or Stop): nothing to judge
	}
	want := []byte{0, 0, 0, 0, 0}
	if g.service != "" {
		want = append([]byte{0, 0, 0, 0, byte(2 + len(g.service)), 0x0a, byte(len(g.service))}, g.service...)
	}
	if r.ProtoMajor != 2 || r.Method != http.MethodPost || r.URL.Path != "/grpc.health.v1.Health/Check" ||
		r.Header.Get("Content-Type") != "application/grpc" || r.Header.Get("Te") != "trailers" || !bytes.Equal(body, want) {
		g.t.Errorf("not a gRPC health check of %q: %s %s %s content-type %q te %q body %x",
			g.service, r.Proto, r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Te"), body)
	}
	w.Header().Set("Content-Type", "application/grpc")
	var status byte
	switch g.answer.Load().(string) {
	case "UNIMPLEMENTED": // trailers-only, as from a server without the health service
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "unknown service grpc.health.v1.Health")
		return
	case "SERVING":
		status = 1
	case "NOT_SERVING":
		status = 2
	}
	w.Header().Set("Trailer", "Grpc-Status")
	if status == 0 { // proto3 leaves out a zero field: UNKNOWN is an empty message
		_, _ = w.Write([]byte{0, 0, 0, 0, 0})
	} else {
		_, _ = w.Write([]byte{0, 0, 0, 0, 2, 0x08, status})
	}
	w.Header().Set("Grpc-Status", "0")
}

func TestProbeGRPC(t *testing.T) {
	for _, service := range []string{"", "shop.v1.Cart"} {
		g := newGRPCHealthServer(t, service)
		srv := newH2CServer(t, g)
		cfg := Config{Protocol: H2C, GRPC: true, GRPCService: service}
		for _, tt := range []struct {
			answer  string
			healthy bool
			why     string
		}{
			{"SERVING", true, ""},
			{"NOT_SERVING", false, "NOT_SERVING"},
			{"EMPTY", false, "UNKNOWN"},
			{"UNIMPLEMENTED", false, "grpc-status 12"},
		} {
			t.Run(service+"/"+tt.answer, func(t *testing.T) {
				g.answer.Store(tt.answer)
				err := Probe(context.Background(), NewClient(), hostPort(srv), cfg)
				if (err == nil) != tt.healthy || (err != nil && !strings.Contains(err.Error(), tt.why)) {
					t.Fatalf("Probe() = %v, want healthy=%v (%s)", err, tt.healthy, tt.why)
				}
			})
		}
	}
}

func TestProbeGRPCOverTLS(t *testing.T) {
	g := newGRPCHealthServer(t, "svc")
	srv := httptest.NewUnstartedServer(g)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if err := Probe(context.Background(), NewClient(), hostPort(srv), Config{Protocol: HTTPS, GRPC: true, GRPCService: "svc"}); err != nil {
		t.Fatal(err)
	}
	if g.calls.Load() != 1 {
		t.Fatalf("server saw %d calls, want 1", g.calls.Load())
	}
}

func TestCheckerFollowsGRPCHealth(t *testing.T) {
	g := newGRPCHealthServer(t, "")
	srv := newH2CServer(t, g)
	var rep reports
	cfg := Config{Interval: 5 * time.Millisecond, Healthy: 1, Unhealthy: 1, Protocol: H2C, GRPC: true}
	c := Start(hostPort(srv), cfg, nil, true, rep.report)
	defer c.Stop()
	waitFor(t, "first calls", func() bool { return g.calls.Load() >= 2 })
	steps := []struct {
		answer string
		want   []bool
	}{
		{"NOT_SERVING", []bool{false}},
		{"SERVING", []bool{false, true}},
		{"UNIMPLEMENTED", []bool{false, true, false}},
	}
	for _, s := range steps {
		g.answer.Store(s.answer)
		waitFor(t, s.answer+" verdict", func() bool { return len(rep.snapshot()) == len(s.want) })
		if got := rep.snapshot(); got[len(got)-1] != s.want[len(s.want)-1] {
			t.Fatalf("after %s verdicts %v, want %v", s.answer, got, s.want)
		}
	}
}

func TestServingStatusDecoding(t *testing.T) {
	frame := func(msg ...byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg))), msg...)
	}
	tests := []struct {
		name   string
		body   []byte
		status uint64
		bad    bool
	}{
		{"serving", frame(0x08, 1), 1, false},
		{"empty message is UNKNOWN", frame(), 0, false},
		{"unknown fields skipped", frame(0x12, 2, 'h', 'i', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x08, 2), 2, false},
		{"multi-byte varint", frame(0x08, 0x81, 0x01), 129, false},
		{"no frame", []byte{0, 0}, 0, true},
		{"compressed", append([]byte{1}, frame(0x08, 1)[1:]...), 0, true},
		{"length mismatch", append(frame(0x08, 1), 0), 0, true},
		{"truncated varint", frame(0x08, 0x81), 0, true},
		{"truncated bytes", frame(0x12, 5, 'h'), 0, true},
		{"group wire type", frame(0x0b), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := servingStatus(tt.body)
			if (err != nil) != tt.bad || (!tt.bad && got != tt.status) {
				t.Fatalf("servingStatus(%x) = %d, %v; want %d, error %v", tt.body, got, err, tt.status, tt.bad)
			}
		})
	}
}

func TestHealthCheckRequestEncoding(t *testing.T) {
	long := strings.Repeat("s", 200) // a two-byte length varint
	want := append([]byte{0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01}, long...)
	if got := healthCheckRequest(long); !bytes.Equal(got, want) {
		t.Fatalf("healthCheckRequest(200 bytes) = %x..., want %x...", got[:8], want[:8])
	}
}
