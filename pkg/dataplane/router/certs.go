package router

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Certificates selects a certificate by SNI: exact name, then a one-label
// wildcard, then the default certificate. A handshake on a gateway's
// address gets one of that gateway port's certificates instead (see
// ForConn), never an Ingress one.
type Certificates struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // keyed by the suffix after "*."
	fallback *tls.Certificate
	// deepWildcards: "*.a.com" covers any number of labels (gateways).
	deepWildcards bool
	gwAddrs       map[netip.Addr]bool
	gwPorts       map[netip.AddrPort]*Certificates
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
	if err := kp.compileGateways(c, s.Gateways); err != nil {
		return nil, err
	}
	return c, nil
}

// compileGateways gives every TLS port of every gateway its certificates,
// under each of the gateway's addresses.
func (kp *keyPairs) compileGateways(c *Certificates, gws []snapshot.Gateway) error {
	if err := snapshot.CheckGateways(gws); err != nil {
		return err
	}
	if len(gws) == 0 {
		return nil
	}
	c.gwAddrs, c.gwPorts = map[netip.Addr]bool{}, map[netip.AddrPort]*Certificates{}
	for i := range gws {
		g := &gws[i]
		addrs := gatewayAddrs(g)
		for _, a := range addrs {
			c.gwAddrs[a] = true
		}
		for j := range g.Ports {
			if !g.Ports[j].TLS {
				continue
			}
			pc, err := kp.compilePort(&g.Ports[j])
			if err != nil {
				return fmt.Errorf("gateway %s port %d: %w", g.Name, g.Ports[j].Port, err)
			}
			for _, a := range addrs {
				c.gwPorts[netip.AddrPortFrom(a, uint16(g.Ports[j].Port))] = pc
			}
		}
	}
	return nil
}

// compilePort selects among a port's certificates by SNI as Gateway API
// listeners match host names; a name none covers gets the port's first
// certificate, as nginx serves its default server's.
func (kp *keyPairs) compilePort(p *snapshot.GatewayPort) (*Certificates, error) {
	pc := &Certificates{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}, deepWildcards: true}
	for i := range p.Certificates {
		sc := &p.Certificates[i]
		cert, err := kp.parse(sc)
		if err != nil {
			return nil, err
		}
		if pc.fallback == nil {
			pc.fallback = cert
		}
		for _, h := range sc.Hosts {
			name, err := normaliseHostName(h)
			if err != nil {
				return nil, fmt.Errorf("certificate from %s: %w", sc.Source, err)
			}
			pc.add(name, cert)
		}
	}
	return pc, nil
}

// ForConn returns the certificates for a handshake on conn: those of the
// gateway port conn was accepted on when its local address is a
// gateway's (nil when that port has no TLS), else c itself.
func (c *Certificates) ForConn(conn net.Conn) *Certificates {
	if c == nil || c.gwAddrs == nil || conn == nil {
		return c
	}
	local, ok := connAddr(conn.LocalAddr())
	if !ok || !c.gwAddrs[local.Addr()] {
		return c
	}
	return c.gwPorts[local]
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
	if c == nil {
		return nil
	}
	var buf [maxHostLen]byte
	name, ok := hostKey(&buf, serverName)
	if !ok {
		return c.fallback
	}
	if cert, ok := c.exact[string(name)]; ok {
		return cert
	}
	for dot := indexByte(name, '.'); dot > 0; dot = indexByte(name, '.') {
		name = name[dot+1:]
		if cert, ok := c.wildcard[string(name)]; ok {
			return cert
		}
		if !c.deepWildcards {
			break
		}
	}
	return c.fallback
}
