package router

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// gatewaySnap has an Ingress side (shared.test, ingress-only.test, a
// catch-all and a default backend) and two gateways that both serve
// shared.test, each to its own upstream.
func gatewaySnap() *snapshot.Snapshot {
	s := withDefault(snap(
		host("shared.test", prefix("/", "ingress")),
		host("ingress-only.test", prefix("/", "ingress-only")),
		host("", prefix("/", "ingress-catch-all")),
	), "ingress-default")
	s.Gateways = []snapshot.Gateway{
		{Name: "ns/gw-a", Addresses: []string{"10.0.0.1", "fd00::1"}, Ports: []snapshot.GatewayPort{
			{Port: 80, Hosts: []snapshot.VirtualHost{
				host("shared.test", prefix("/", "gw-a")),
				host("*.wild.test", prefix("/", "gw-a-wild")),
			}},
			{Port: 8080, Hosts: []snapshot.VirtualHost{host("", prefix("/", "gw-a-8080"))}},
		}},
		{Name: "ns/gw-b", Addresses: []string{"10.0.0.2"}, Ports: []snapshot.GatewayPort{
			{Port: 80, Hosts: []snapshot.VirtualHost{host("shared.test", prefix("/", "gw-b"))}},
		}},
		{Name: "ns/gw-empty", Addresses: []string{"10.0.0.3"}},
	}
	for _, g := range s.Gateways {
		for _, p := range g.Ports {
			for _, h := range p.Hosts {
				for _, r := range h.Routes {
					addUpstream(s, r.Upstream)
				}
			}
		}
	}
	return s
}

func TestGatewayScoping(t *testing.T) {
	s := gatewaySnap()
	table, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, local, want string
	}{
		{"gateway a serves its own route for a shared host", "shared.test", "10.0.0.1:80", "gw-a"},
		{"gateway b serves its own route for the same host", "shared.test", "10.0.0.2:80", "gw-b"},
		{"gateway a on its other address", "shared.test", "[fd00::1]:80", "gw-a"},
		{"an IPv4-mapped local address is the IPv4 one", "shared.test", "[::ffff:10.0.0.1]:80", "gw-a"},
		{"a connection to no gateway address uses Ingress", "shared.test", "127.0.0.1:80", "ingress"},
		{"no local address uses Ingress", "shared.test", "", "ingress"},
		{"a gateway address never reaches an Ingress-only host", "ingress-only.test", "10.0.0.1:80", ""},
		{"nor the Ingress catch-all or default backend", "unknown.test", "10.0.0.2:80", ""},
		{"a port the gateway does not serve is a 404", "shared.test", "10.0.0.1:81", ""},
		{"another port of the same gateway routes by its own hosts", "anything.test", "10.0.0.1:8080", "gw-a-8080"},
		{"a gateway without ports routes nothing", "shared.test", "10.0.0.3:80", ""},
		{"a gateway wildcard covers one label", "x.wild.test", "10.0.0.1:80", "gw-a-wild"},
		{"a gateway wildcard covers more labels too", "x.y.wild.test", "10.0.0.1:80", "gw-a-wild"},
		{"a gateway wildcard does not cover its domain", "wild.test", "10.0.0.1:80", ""},
		{"gateway b does not see gateway a's wildcard", "x.wild.test", "10.0.0.2:80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := matchOf(table, newRequest("GET", tt.host, "/x", tt.local))
			if got := upstreamOf(s, m, ok); got != tt.want {
				t.Errorf("%s via %s went to %q, want %q", tt.host, tt.local, got, tt.want)
			}
		})
	}
}

// TestGatewayScopingThroughTheProxy: the loopback address is a gateway's,
// so a real connection to the proxy carries it in the request context.
func TestGatewayScopingThroughTheProxy(t *testing.T) {
	rig := newProxyRig(t)
	gw, ingress := newEchoBackend(t, "gateway"), newEchoBackend(t, "ingress")
	local := netip.MustParseAddrPort(rig.addr)
	s := &snapshot.Snapshot{
		Hosts: []snapshot.VirtualHost{host("shared.test", prefix("/", "ingress")), host("ingress-only.test", prefix("/", "ingress"))},
		Gateways: []snapshot.Gateway{{Name: "ns/gw", Addresses: []string{local.Addr().String()}, Ports: []snapshot.GatewayPort{
			{Port: int(local.Port()), Hosts: []snapshot.VirtualHost{host("shared.test", prefix("/", "gateway"))}},
		}}},
		Upstreams: []snapshot.Upstream{
			{Name: "gateway", Endpoints: []snapshot.Endpoint{{Address: gw.addr}}},
			{Name: "ingress", Endpoints: []snapshot.Endpoint{{Address: ingress.addr}}},
		},
	}
	if err := rig.router.Apply(s); err != nil {
		t.Fatal(err)
	}
	if status, body := rig.get(t, "shared.test", nil); status != 200 || body != "gateway" {
		t.Errorf("shared.test: %d %q, want 200 from the gateway's upstream", status, body)
	}
	if status, _ := rig.get(t, "ingress-only.test", nil); status != 404 {
		t.Errorf("ingress-only.test on a gateway address: %d, want 404", status)
	}
}

// connAt is a net.Conn that only knows its local address, for handshakes.
type connAt struct {
	net.Conn
	local net.Addr
}

func (c connAt) LocalAddr() net.Addr { return c.local }

func TestGatewayCertificateSelection(t *testing.T) {
	ingressCert, defCert := selfSigned(t, "ingress", "www.example.com"), selfSigned(t, "ingress-default", "default.invalid")
	s := &snapshot.Snapshot{Certificates: []snapshot.Certificate{ingressCert}, DefaultCertificate: &defCert,
		Gateways: []snapshot.Gateway{
			{Name: "ns/gw-a", Addresses: []string{"10.0.0.1"}, Ports: []snapshot.GatewayPort{
				{Port: 443, TLS: true, Certificates: []snapshot.Certificate{
					selfSigned(t, "gw-a-first", "first.example.com"), selfSigned(t, "gw-a", "www.example.com"),
				}},
				{Port: 80},
			}},
			{Name: "ns/gw-b", Addresses: []string{"10.0.0.2"}, Ports: []snapshot.GatewayPort{
				{Port: 443, TLS: true, Certificates: []snapshot.Certificate{selfSigned(t, "gw-b", "*.example.com")}},
			}},
		}}
	r := newTestRouter(t)
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ sni, local, want string }{
		{"www.example.com", "127.0.0.1:443", "ingress"},
		{"other.org", "127.0.0.1:443", "ingress-default"},
		{"www.example.com", "", "ingress"},
		{"www.example.com", "10.0.0.1:443", "gw-a"},
		{"other.org", "10.0.0.1:443", "gw-a-first"}, // the port's first certificate, never an Ingress one
		{"www.example.com", "10.0.0.2:443", "gw-b"},
		{"a.b.example.com", "10.0.0.2:443", "gw-b"},             // a gateway wildcard covers more labels
		{"www.example.com", "10.0.0.1:80", FakeCertificateName}, // a port without TLS has no certificate
		{"www.example.com", "10.0.0.1:8443", FakeCertificateName},
	}
	for _, tt := range tests {
		hello := &tls.ClientHelloInfo{ServerName: tt.sni}
		if tt.local != "" {
			hello.Conn = connAt{local: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tt.local))}
		}
		c, err := r.GetCertificate(hello)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Subject.CommonName != tt.want {
			t.Errorf("%q on %s: served %q, want %q", tt.sni, tt.local, leaf.Subject.CommonName, tt.want)
		}
	}
}

func TestGatewayCompileErrors(t *testing.T) {
	gw := func(name string, addrs []string, ports ...int) snapshot.Gateway {
		g := snapshot.Gateway{Name: name, Addresses: addrs}
		for _, p := range ports {
			g.Ports = append(g.Ports, snapshot.GatewayPort{Port: p, Hosts: []snapshot.VirtualHost{host("a.test", prefix("/", "u"))}})
		}
		return g
	}
	tests := []struct {
		name string
		gws  []snapshot.Gateway
		want string
	}{
		{"shared address", []snapshot.Gateway{gw("ns/a", []string{"10.0.0.1"}, 80), gw("ns/b", []string{"10.0.0.1"}, 81)}, "gateways ns/a and ns/b share address 10.0.0.1"},
		{"port twice", []snapshot.Gateway{gw("ns/a", []string{"10.0.0.1"}, 80, 80)}, "port 80 listed twice"},
		{"port 0", []snapshot.Gateway{gw("ns/a", []string{"10.0.0.1"}, 0)}, "port 0 is not between 1 and 65535"},
		{"not an IP", []snapshot.Gateway{gw("ns/a", []string{"gw.example.com"}, 80)}, `address "gw.example.com" is not an IP address`},
		{"unknown upstream", []snapshot.Gateway{{Name: "ns/a", Ports: []snapshot.GatewayPort{{Port: 80, Hosts: []snapshot.VirtualHost{host("a.test", prefix("/", "gone"))}}}}}, `unknown upstream "gone"`},
	}
	for _, tt := range tests {
		s := snap()
		addUpstream(s, "u")
		s.Gateways = tt.gws
		if _, err := Compile(s); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Compile error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestMatchFieldsAllocatesNothing: no matcher allocates, nor does a
// request on a gateway address (a context lookup and two map probes).
func TestMatchFieldsAllocatesNothing(t *testing.T) {
	for _, c := range matchRequestCases(t) {
		fields := fieldsOf(c.req.Header)
		if allocs := testing.AllocsPerRun(1000, func() { c.table.MatchFields(c.req, fields) }); allocs != 0 {
			t.Errorf("%s: MatchFields allocates %v times per call", c.name, allocs)
		}
	}
}
