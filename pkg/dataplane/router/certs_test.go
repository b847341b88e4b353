package router

import (
	"crypto/x509"
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
