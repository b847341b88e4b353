package router

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

// selfSigned makes a certificate for names, marked with cn so a test can
// tell which one was served.
func selfSigned(t *testing.T, cn string, names ...string) snapshot.Certificate {
	t.Helper()
	c, err := snapshottest.SelfSigned(cn, names...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificateSelection(t *testing.T) {
	exactCert := selfSigned(t, "exact", "www.example.com")
	wildCert := selfSigned(t, "wild", "*.example.com")
	upperCert := selfSigned(t, "upper", "API.Other.com")
	laterCert := selfSigned(t, "later", "www.example.com", "*.example.com") // listed after the first owners
	defCert := selfSigned(t, "default", "default.invalid")
	s := &snapshot.Snapshot{Certificates: []snapshot.Certificate{exactCert, wildCert, upperCert, laterCert},
		DefaultCertificate: &defCert}
	certs, err := CompileCertificates(s)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"www.example.com":   "exact",
		"WWW.Example.COM":   "exact",
		"api.example.com":   "wild",
		"a.api.example.com": "default", // a wildcard covers one label only
		"example.com":       "default",
		"":                  "default",
		"unrelated.org":     "default",
		"www.example.com.":  "exact",
		"api.other.com":     "upper",
		"API.EXAMPLE.COM":   "wild",
		".example.com":      "default", // an empty label is no label
		strings.Repeat("a", 250) + ".example.com": "default",
	}
	for sni, want := range tests {
		c := certs.Get(sni)
		if c == nil {
			t.Errorf("%q: no certificate", sni)
			continue
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Subject.CommonName != want {
			t.Errorf("%q: served %q, want %q", sni, leaf.Subject.CommonName, want)
		}
	}
	noDefault, err := CompileCertificates(&snapshot.Snapshot{Certificates: []snapshot.Certificate{exactCert}})
	if err != nil {
		t.Fatal(err)
	}
	if c := noDefault.Get("other.org"); c != nil {
		t.Error("a name no certificate covers got one although there is no default")
	}
}

func TestBadCertificateNamesItsSource(t *testing.T) {
	bad := selfSigned(t, "broken", "a.example.com")
	bad.KeyPEM = selfSigned(t, "other", "b.example.com").KeyPEM // key of another certificate
	_, err := CompileCertificates(&snapshot.Snapshot{Certificates: []snapshot.Certificate{bad}})
	if err == nil || !strings.Contains(err.Error(), "test/broken") {
		t.Fatalf("got %v, want an error naming test/broken", err)
	}
}

func TestCertificateHostsAreValidated(t *testing.T) {
	bad := selfSigned(t, "typo", "a.*.example.com")
	_, err := CompileCertificates(&snapshot.Snapshot{Certificates: []snapshot.Certificate{bad}})
	if err == nil || !strings.Contains(err.Error(), "test/typo") || !strings.Contains(err.Error(), "wildcard") {
		t.Fatalf("got %v, want an error naming test/typo and the wildcard", err)
	}
}

func TestBadDefaultCertificateNamesItsSource(t *testing.T) {
	def := selfSigned(t, "default", "default.invalid")
	def.CertPEM = []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
	_, err := CompileCertificates(&snapshot.Snapshot{DefaultCertificate: &def})
	if err == nil || !strings.Contains(err.Error(), "test/default") {
		t.Fatalf("got %v, want an error naming test/default", err)
	}
}

func TestGetCertificateAllocatesNothing(t *testing.T) {
	wild := selfSigned(t, "wild", "*.example.com")
	certs, err := CompileCertificates(&snapshot.Snapshot{Certificates: []snapshot.Certificate{wild}})
	if err != nil {
		t.Fatal(err)
	}
	if certs.Get("API.example.com") == nil {
		t.Fatal("the wildcard certificate was not selected; the case measures nothing")
	}
	if allocs := testing.AllocsPerRun(1000, func() { certs.Get("API.example.com") }); allocs != 0 {
		t.Errorf("Get allocates %v times per call", allocs)
	}
}

// endpointChurn is s with only its endpoints changed, as EndpointSlice
// updates produce it.
func endpointChurn(s *snapshot.Snapshot, n int) *snapshot.Snapshot {
	c := *s
	c.Version = uint64(n)
	c.Upstreams = []snapshot.Upstream{{Name: "u", Endpoints: []snapshot.Endpoint{{Address: fmt.Sprintf("127.0.0.1:%d", 1000+n%50)}}}}
	return &c
}

// served is the certificate a handshake for sni gets.
func served(t *testing.T, r *Router, sni string) *tls.Certificate {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestApplyParsesEachCertificateOnce: snapshots that only move endpoints
// reuse the certificates parsed before (the same *tls.Certificate is
// served); a rotated Secret is parsed once and served from then on.
func TestApplyParsesEachCertificateOnce(t *testing.T) {
	r := newTestRouter(t)
	a, b := selfSigned(t, "a", "a.test"), selfSigned(t, "b", "b.test")
	s := &snapshot.Snapshot{Hosts: []snapshot.VirtualHost{host("a.test", prefix("/", "u"))},
		Certificates: []snapshot.Certificate{a, b}}
	if err := r.Apply(endpointChurn(s, 1)); err != nil {
		t.Fatal(err)
	}
	first := served(t, r, "a.test")
	for n := 2; n <= 100; n++ {
		if err := r.Apply(endpointChurn(s, n)); err != nil {
			t.Fatal(err)
		}
		if c := served(t, r, "a.test"); c != first {
			t.Fatalf("apply %d parsed the unchanged certificate again", n)
		}
	}
	if r.keyPairs.parses != 2 {
		t.Errorf("%d key pairs parsed over 100 snapshots of 2 certificates, want 2", r.keyPairs.parses)
	}

	rotated := selfSigned(t, "a-rotated", "a.test")
	s.Certificates = []snapshot.Certificate{rotated, b}
	for n := 101; n <= 103; n++ {
		if err := r.Apply(endpointChurn(s, n)); err != nil {
			t.Fatal(err)
		}
	}
	if cn := served(t, r, "a.test").Leaf.Subject.CommonName; cn != "a-rotated" {
		t.Errorf("after rotation a.test is served %q", cn)
	}
	if r.keyPairs.parses != 3 || r.keyPairs.inForce.len() != 2 {
		t.Errorf("after rotation: %d parses, %d kept, want 3 parses and 2 kept (the old pair dropped)",
			r.keyPairs.parses, r.keyPairs.inForce.len())
	}
}

// TestRefusedSnapshotKeepsParsedCertificates: a snapshot refused for a bad
// pair does not empty the cache the next good one reuses.
func TestRefusedSnapshotKeepsParsedCertificates(t *testing.T) {
	r := newTestRouter(t)
	good := selfSigned(t, "good", "a.test")
	s := &snapshot.Snapshot{Certificates: []snapshot.Certificate{good}}
	if err := r.Apply(endpointChurn(s, 1)); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.KeyPEM = selfSigned(t, "other", "b.test").KeyPEM
	s.Certificates = []snapshot.Certificate{good, bad}
	if err := r.Apply(endpointChurn(s, 2)); err == nil {
		t.Fatal("a mismatched key pair was applied")
	}
	s.Certificates = []snapshot.Certificate{good}
	if err := r.Apply(endpointChurn(s, 3)); err != nil {
		t.Fatal(err)
	}
	if r.keyPairs.parses != 2 { // good once, bad once (refused)
		t.Errorf("%d parses, want 2: the refused snapshot dropped the cache", r.keyPairs.parses)
	}
}
