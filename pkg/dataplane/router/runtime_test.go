package router

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/lb"
	"github.com/baton-dev/baton/pkg/lb/health"
)

// TestApplyRefusesBadCABundleAndKeepsPools: a snapshot whose upstream CA
// bundle is unusable is refused as a whole, and the pools of the snapshot
// in force stay as they were.
func TestApplyRefusesBadCABundleAndKeepsPools(t *testing.T) {
	registry := lb.NewRegistry(lb.RegistryOptions{})
	defer registry.Close()
	r := New(registry, nil)
	good := snap(host("a.test", prefix("/", "u")))
	good.Version = 1
	good.Upstreams[0].Endpoints = []snapshot.Endpoint{{Address: "127.0.0.1:1"}}
	if err := r.Apply(good); err != nil {
		t.Fatal(err)
	}
	before := r.current.Load().upstreams.at(0).pool
	before.Backends()[0].Begin() // a request in flight: state the registry must keep

	bad := snap(host("a.test", prefix("/", "u")))
	bad.Version = 2
	bad.Upstreams[0].Endpoints = []snapshot.Endpoint{{Address: "127.0.0.1:2"}}
	bad.Upstreams[0].Protocol = snapshot.ProtocolHTTPS
	bad.Upstreams[0].TLS.CAPEM = []byte("not a certificate")
	if err := r.Apply(bad); err == nil {
		t.Fatal("a snapshot with an unusable CA bundle was applied")
	}
	if v := r.Version(); v != 1 {
		t.Errorf("version in force is %d, want 1", v)
	}
	if after := r.current.Load().upstreams.at(0).pool; after != before || after.Backends()[0].Addr() != "127.0.0.1:1" {
		t.Errorf("pool changed by a refused snapshot: %v", after.Backends())
	}
	// Had the refused snapshot reached the registry, it would have
	// forgotten 127.0.0.1:1 and this Apply would start it afresh.
	good.Version = 3
	if err := r.Apply(good); err != nil {
		t.Fatal(err)
	}
	if n := r.current.Load().upstreams.at(0).pool.Backends()[0].Inflight(); n != 1 {
		t.Errorf("backend state lost across a refused snapshot: %d in flight, want 1", n)
	}
}

// TestActiveCheckOfH2CUpstreamSpeaksH2C: an H2C upstream's pods may speak
// nothing but HTTP/2 (gRPC servers do), so an HTTP/1.1 check would mark
// every one of them unhealthy.
func TestActiveCheckOfH2CUpstreamSpeaksH2C(t *testing.T) {
	var checks atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && r.URL.Path == "/healthz" {
			checks.Add(1)
		}
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true) // and no HTTP/1.1
	srv.Start()
	t.Cleanup(srv.Close)

	registry := lb.NewRegistry(lb.RegistryOptions{Logger: logtest.Logger(t)})
	t.Cleanup(registry.Close)
	r := New(registry, nil)
	s := snap(host("a.test", prefix("/", "u")))
	s.Upstreams[0].Protocol = snapshot.ProtocolH2C
	s.Upstreams[0].Endpoints = []snapshot.Endpoint{{Address: srv.Listener.Addr().String()}}
	s.Upstreams[0].HealthCheck = &snapshot.HealthCheck{Path: "/healthz", Interval: 5 * time.Millisecond,
		Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1}
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	b := r.current.Load().upstreams.at(0).pool.Backends()[0]
	deadline := time.Now().Add(10 * time.Second) // safety limit only
	for checks.Load() < 3 && b.Available() && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if !b.Available() || checks.Load() < 3 {
		t.Fatalf("h2c-only backend: available %v after %d HTTP/2 checks, want available after 3", b.Available(), checks.Load())
	}
}

func TestPoolConfigCheckSettings(t *testing.T) {
	hc := &snapshot.HealthCheck{Path: "/h", GRPC: true, GRPCService: "svc"}
	tests := []struct {
		protocol snapshot.Protocol
		want     health.Protocol
	}{
		{snapshot.ProtocolHTTP1, health.HTTP1},
		{"", health.HTTP1},
		{snapshot.ProtocolH2C, health.H2C},
		{snapshot.ProtocolHTTPS, health.HTTPS},
	}
	for _, tt := range tests {
		u := &snapshot.Upstream{Name: "u", Protocol: tt.protocol, HostRewrite: "h.test", HealthCheck: hc}
		got := poolConfig(u).Active
		if got.Protocol != tt.want || !got.GRPC || got.GRPCService != "svc" || got.Host != "h.test" || got.Path != "/h" {
			t.Errorf("protocol %q: active config %+v", tt.protocol, *got)
		}
	}
}

// Every per-upstream timeout reaches the proxy's peer.
func TestUpstreamTimeoutsReachThePeer(t *testing.T) {
	registry := lb.NewRegistry(lb.RegistryOptions{})
	defer registry.Close()
	r := New(registry, nil)
	s := snap(host("a.test", prefix("/", "u")))
	s.Upstreams[0].Endpoints = []snapshot.Endpoint{{Address: "127.0.0.1:1"}}
	s.Upstreams[0].Timeouts = snapshot.Timeouts{Connect: 1, Response: 2, Idle: 3, Read: 4}
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	p := r.current.Load().upstreams.at(0).peer
	if p.ConnectTimeout != 1 || p.ResponseTimeout != 2 || p.IdleTimeout != 3 || p.ReadTimeout != 4 {
		t.Errorf("peer timeouts %v %v %v %v, want 1ns 2ns 3ns 4ns", p.ConnectTimeout, p.ResponseTimeout, p.IdleTimeout, p.ReadTimeout)
	}
}
