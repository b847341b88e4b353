// Package snapshottest makes test material for snapshots: self-signed
// certificates whose CommonName tells a test which one was served.
package snapshottest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// SelfSigned returns a PEM certificate and key for names, with CommonName
// cn, valid for an hour around now, as a snapshot.Certificate whose Source
// is "test/<cn>".
func SelfSigned(cn string, names ...string) (snapshot.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return snapshot.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return snapshot.Certificate{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return snapshot.Certificate{}, err
	}
	return snapshot.Certificate{Hosts: names, Source: "test/" + cn,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}, nil
}

// Flat is s with its hosts and upstreams as plain slices (copies, when s
// has them as lists), for comparing snapshots with reflect.DeepEqual.
func Flat(s *snapshot.Snapshot) *snapshot.Snapshot {
	if s == nil {
		return nil
	}
	f := *s
	f.Hosts, f.Upstreams = s.HostSlice(), s.UpstreamSlice()
	f.SetHostList(snapshot.HostList{})
	f.SetUpstreamList(snapshot.UpstreamList{})
	return &f
}

// WithLists is s with its hosts and upstreams as lists, as a producer
// that patches them sets them; the entries (and Routes slices) are s's.
func WithLists(s *snapshot.Snapshot) *snapshot.Snapshot {
	l := *s
	l.SetHostList(s.HostList())
	l.SetUpstreamList(s.UpstreamList())
	l.Hosts, l.Upstreams = nil, nil
	return &l
}
