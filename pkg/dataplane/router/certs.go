package router

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Certificates selects a certificate by SNI: exact name, then a one-label
// wildcard, then the default certificate.
type Certificates struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // keyed by the suffix after "*."
	fallback *tls.Certificate
}

// CompileCertificates parses every PEM pair of s once. A bad pair or a
// malformed host name is an error naming the certificate's Source; the
// producer is expected to have validated both.
func CompileCertificates(s *snapshot.Snapshot) (*Certificates, error) {
	var pairs keyPairs
	return pairs.compile(s)
}

// keyPairs keeps parsed key pairs across snapshots by the PEM bytes they
// were parsed from: snapshots are rebuilt on every EndpointSlice change,
// and parsing (the private key above all) is what made applying them slow.
type keyPairs struct {
	prev map[pairKey]*tls.Certificate // what the snapshot in force uses
	used map[pairKey]*tls.Certificate // what the snapshot being compiled uses
	// parses counts the pairs parsed, for tests.
	parses int
}

// pairKey identifies a Secret version by content, without keeping a
// second copy of the private key's PEM in memory.
type pairKey [2][sha256.Size]byte

// compile builds the Certificates of s, reusing pairs parsed for the
// snapshot in force. Call commit once s is published.
func (kp *keyPairs) compile(s *snapshot.Snapshot) (*Certificates, error) {
	kp.used = make(map[pairKey]*tls.Certificate, len(s.Certificates)+1)
	c := &Certificates{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	for i := range s.Certificates {
		sc := &s.Certificates[i]
		cert, err := kp.parse(sc)
		if err != nil {
			return nil, err
		}
		for _, h := range sc.Hosts {
			name, err := normaliseHostName(h)
			if err != nil {
				return nil, fmt.Errorf("certificate from %s: %w", sc.Source, err)
			}
			c.add(name, cert)
		}
	}
	if s.DefaultCertificate != nil {
		cert, err := kp.parse(s.DefaultCertificate)
		if err != nil {
			return nil, err
		}
		c.fallback = cert
	}
	return c, nil
}

// commit drops the pairs the published snapshot no longer uses.
func (kp *keyPairs) commit() {
	kp.prev, kp.used = kp.used, nil
}

func (kp *keyPairs) parse(sc *snapshot.Certificate) (*tls.Certificate, error) {
	k := pairKey{sha256.Sum256(sc.CertPEM), sha256.Sum256(sc.KeyPEM)}
	cert := kp.used[k]
	if cert == nil {
		cert = kp.prev[k]
	}
	if cert == nil {
		kp.parses++
		var err error
		if cert, err = parsePair(sc); err != nil {
			return nil, err
		}
	}
	kp.used[k] = cert
	return cert, nil
}

func parsePair(sc *snapshot.Certificate) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(sc.CertPEM, sc.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate from %s: %w", sc.Source, err)
	}
	return &cert, nil
}

// add keeps the first certificate listed for a name: the producer lists
// them in precedence order.
func (c *Certificates) add(host string, cert *tls.Certificate) {
	m, key := c.exact, host
	if strings.HasPrefix(host, "*.") {
		m, key = c.wildcard, host[2:]
	}
	if _, taken := m[key]; !taken {
		m[key] = cert
	}
}

// Get returns the certificate for serverName, or nil. Names are compared
// like Host headers are by Match.
func (c *Certificates) Get(serverName string) *tls.Certificate {
	var buf [maxHostLen]byte
	name, ok := hostKey(&buf, serverName)
	if !ok {
		return c.fallback
	}
	if cert, ok := c.exact[string(name)]; ok {
		return cert
	}
	if dot := indexByte(name, '.'); dot > 0 {
		if cert, ok := c.wildcard[string(name[dot+1:])]; ok {
			return cert
		}
	}
	return c.fallback
}
