package router

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

// testPairs are the key pairs random snapshots draw their certificates
// from, made once: key generation is slow.
var testPairs = sync.OnceValue(func() []snapshot.Certificate {
	var out []snapshot.Certificate
	for i := range 3 {
		c, err := snapshottest.SelfSigned(fmt.Sprint("pair", i))
		if err != nil {
			panic(err)
		}
		out = append(out, c)
	}
	return out
})

// sniProbes are the names sameCertificates asks for: every name
// drawCertificate lists, one each wildcard covers, and one none does.
var sniProbes = []string{"h0", "h1", "h2", "x.w", "y.w", "a.b.w", "w", "unknown"}

// nextCertificates keeps prev's very list now and then, as the translate
// Cache shares it, else makes one of sources ns/c0 to ns/c3 in Source
// order (now and then not), each kept from prev (the same element),
// dropped or drawn anew; their names overlap, so that a name is often
// listed by two certificates.
func nextCertificates(rng *rand.Rand, prev *snapshot.Snapshot) []snapshot.Certificate {
	if prev != nil && rng.IntN(4) == 0 {
		return prev.Certificates
	}
	var out []snapshot.Certificate
	for i := range 4 {
		source := fmt.Sprintf("ns/c%d", i)
		switch at := -1; {
		case rng.IntN(4) == 0:
		case prev != nil && rng.IntN(2) == 0 && findSource(prev.Certificates, source, &at):
			out = append(out, prev.Certificates[at])
		default:
			out = append(out, drawCertificate(rng, source))
		}
	}
	if rng.IntN(8) == 0 {
		slices.Reverse(out)
	}
	return out
}

func findSource(certs []snapshot.Certificate, source string, at *int) bool {
	*at = slices.IndexFunc(certs, func(c snapshot.Certificate) bool { return c.Source == source })
	return *at >= 0
}

// drawCertificate is a certificate of source for one or two names, of one
// of testPairs.
func drawCertificate(rng *rand.Rand, source string) snapshot.Certificate {
	c := testPairs()[rng.IntN(len(testPairs()))]
	c.Source, c.Hosts = source, nil
	names := []string{"h0", "h1", "H2", "*.w", "x.w"}
	for range 1 + rng.IntN(2) {
		c.Hosts = append(c.Hosts, names[rng.IntN(len(names))])
	}
	return c
}

// gatewayTLSProbe is the address of nextGateways' gateway's TLS port.
const gatewayTLSProbe = "192.0.2.1:443"

// gatewayTLSPort is a TLS port serving hosts with one or two certificates
// drawn anew.
func gatewayTLSPort(rng *rand.Rand, hosts []snapshot.VirtualHost) snapshot.GatewayPort {
	p := snapshot.GatewayPort{Port: 443, TLS: true, Hosts: hosts}
	for i := range 1 + rng.IntN(2) {
		p.Certificates = append(p.Certificates, drawCertificate(rng, fmt.Sprintf("ns/gw%d", i)))
	}
	return p
}

// nextDefaultCertificate is prev's, none or one drawn anew.
func nextDefaultCertificate(rng *rand.Rand, prev *snapshot.Snapshot) *snapshot.Certificate {
	switch rng.IntN(3) {
	case 0:
		if prev != nil {
			return prev.DefaultCertificate
		}
	case 1:
		c := drawCertificate(rng, "ns/default")
		return &c
	}
	return nil
}

// sameCertificates: got serves every probe, on the Ingress side and on
// the gateway's TLS port, what want serves, and holds no name want does
// not.
func sameCertificates(t *testing.T, where string, got, want *Certificates) {
	t.Helper()
	if got.exact.len() != want.exact.len() || got.wildcard.len() != want.wildcard.len() || got.bySource.len() != want.bySource.len() {
		t.Fatalf("%s: %d exact and %d wildcard names, %d certificates; a full apply %d, %d and %d", where,
			got.exact.len(), got.wildcard.len(), got.bySource.len(), want.exact.len(), want.wildcard.len(), want.bySource.len())
	}
	gw := connAt{local: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(gatewayTLSProbe))}
	for _, conn := range []net.Conn{nil, gw} {
		for _, sni := range sniProbes {
			g, w := got.ForConn(conn).Get(sni), want.ForConn(conn).Get(sni)
			if (g == nil) != (w == nil) || g != nil && !bytes.Equal(g.Certificate[0], w.Certificate[0]) {
				t.Fatalf("%s: %q (gateway: %v) is served %s, by a full apply %s", where, sni, conn != nil, leafName(g), leafName(w))
			}
		}
	}
}

func leafName(c *tls.Certificate) string {
	if c == nil {
		return "none"
	}
	return c.Leaf.Subject.CommonName
}

// samePairs: the router keeps the pairs s uses, each counted once per
// certificate of s using it, and no other.
func samePairs(t *testing.T, where string, r *Router, s *snapshot.Snapshot) {
	t.Helper()
	want := map[string]int{}
	count := func(c *snapshot.Certificate) {
		k := pairKeyOf(c)
		want[string(k[:])]++
	}
	for i := range s.Certificates {
		count(&s.Certificates[i])
	}
	if s.DefaultCertificate != nil {
		count(s.DefaultCertificate)
	}
	for _, g := range s.Gateways {
		for _, p := range g.Ports {
			for i := range p.Certificates {
				if p.TLS {
					count(&p.Certificates[i])
				}
			}
		}
	}
	got := map[string]int{}
	for k, p := range r.keyPairs.inForce.all() {
		got[k] = p.users
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: the router counts the users of %d pairs as %v, want %v", where, len(got), slices.Collect(maps.Values(got)), slices.Collect(maps.Values(want)))
	}
}
