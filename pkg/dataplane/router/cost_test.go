package router

import (
	"crypto/tls"
	"fmt"
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/allocstest"
)

// TestApplySecretChangeCostFollowsTheChange: a TLS Secret rotated (one
// certificate of the list with new PEM blocks, the others shared, as the
// translate Cache hands them out) allocates about as much among 5,000
// certificates as among 500 (issue 10): the SNI table in force is patched
// for the rotated certificate's names, not built again.
func TestApplySecretChangeCostFollowsTheChange(t *testing.T) {
	pairs := [2]snapshot.Certificate{selfSigned(t, "one"), selfSigned(t, "two")}
	small, large := secretChangeBytes(t, 500, pairs), secretChangeBytes(t, 5000, pairs)
	allocstest.CheckFlat(t, "one rotated Secret", [2]string{"500 certificates", "5,000"}, small, large, 32<<10)
}

// secretChangeBytes is what the Apply of one rotated certificate
// allocates in a router serving n certificates (each a name and its
// wildcard), all of pairs[0]'s key pair but the rotated one, which gets
// pairs[1]'s.
func secretChangeBytes(t *testing.T, n int, pairs [2]snapshot.Certificate) uint64 {
	r, s := scaleRouter(t, 1000)
	for i := range n {
		c := pairs[0]
		c.Source, c.Hosts = fmt.Sprintf("ns/tls%05d", i), []string{fmt.Sprintf("c%05d.example", i), fmt.Sprintf("*.c%05d.example", i)}
		s.Certificates = append(s.Certificates, c)
	}
	s.Version = 2
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	next := *s
	next.Version, next.Changes, next.Certificates = 3, &snapshot.Changes{Base: 2}, slices.Clone(s.Certificates)
	rotated := &next.Certificates[n/2]
	rotated.CertPEM, rotated.KeyPEM, rotated.Hosts = pairs[1].CertPEM, pairs[1].KeyPEM, slices.Clone(rotated.Hosts)
	bytes := applyBytes(t, r, &next)
	for _, sni := range []string{rotated.Hosts[0], "x." + rotated.Hosts[0]} {
		if servedPEM(t, r.GetCertificate, sni) != 1 {
			t.Fatalf("%s is not served the rotated certificate", sni)
		}
	}
	if servedPEM(t, r.GetCertificate, next.Certificates[0].Hosts[0]) != 0 {
		t.Fatalf("%s lost its certificate", next.Certificates[0].Hosts[0])
	}
	return bytes
}

// servedPEM tells which of selfSigned's "one" (0) and "two" (1) is served
// for sni, by the leaf's common name.
func servedPEM(t *testing.T, get func(*tls.ClientHelloInfo) (*tls.Certificate, error), sni string) int {
	t.Helper()
	c, err := get(&tls.ClientHelloInfo{ServerName: sni})
	if err != nil {
		t.Fatal(err)
	}
	switch c.Leaf.Subject.CommonName {
	case "one":
		return 0
	case "two":
		return 1
	}
	return -1
}

// TestApplyWeightedHostChangeCostFollowsTheChange: one host changed among
// hosts that all split their requests between two backends allocates
// about as much among 20,000 such hosts as among 2,000: the splitters of
// the unchanged hosts, which the next table continues, are shared with the
// table in force rather than copied.
func TestApplyWeightedHostChangeCostFollowsTheChange(t *testing.T) {
	small, large := weightedHostChangeBytes(t, 2000), weightedHostChangeBytes(t, 20000)
	allocstest.CheckFlat(t, "one changed weighted host", [2]string{"2,000", "20,000"}, small, large, 64<<10)
}

// weightedHostChangeBytes is what the Apply of one host with new weights
// allocates in a router serving n hosts, each splitting 1:1 between two
// upstreams; Changes list the host.
func weightedHostChangeBytes(t *testing.T, n int) uint64 {
	r, s := scaleRouter(t, n)
	s.Version = 2
	for i := range s.Hosts {
		split(&s.Hosts[i], s.Upstreams, i, 1)
	}
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	next := *s
	next.Version, next.Hosts = 3, slices.Clone(s.Hosts)
	changed := &next.Hosts[n/2]
	next.Changes = &snapshot.Changes{Base: 2, Hosts: []string{changed.Name}}
	split(changed, s.Upstreams, n/2, 0) // all to the first backend
	bytes := applyBytes(t, r, &next)
	for range 3 {
		if m, ok := r.current.Load().table.Match(changed.Name, "/"); !ok || m.Upstream != slotOf(r.current.Load(), changed.Routes[0].Backends[0].Upstream) {
			t.Fatalf("%s is not routed to its only weighted backend: %+v %v", changed.Name, m, ok)
		}
	}
	return bytes
}

// split gives vh one route split between two of ups, the second of the
// given weight.
func split(vh *snapshot.VirtualHost, ups []snapshot.Upstream, i, weight int) {
	a, b := ups[i%len(ups)].Name, ups[(i+1)%len(ups)].Name
	vh.Routes = []snapshot.Route{{PathType: snapshot.PathPrefix, Path: "/", Source: "ns/" + vh.Name,
		Backends: []snapshot.WeightedBackend{{Upstream: a, Weight: 1}, {Upstream: b, Weight: weight}}}}
}
