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
	// exact and wildcard (keyed by the suffix after "*.") name the
	// certificate of bySource served for a name. They are copy-on-write,
	// so that a patch (see keyPairs.patch) writes the names of the
	// certificates that changed alone, and a rotated Secret, whose names
	// stay, only its certificate in bySource.
	exact    cowMap[sniEntry]
	wildcard cowMap[sniEntry]
	bySource cowMap[*tls.Certificate]
	fallback *tls.Certificate
	// deepWildcards: "*.a.com" covers any number of labels (gateways).
	deepWildcards bool
	gwAddrs       map[netip.Addr]bool
	gwPorts       map[netip.AddrPort]*Certificates
}

// sniEntry is the certificate served for a name: the first listed for
// it, by its key in bySource (its Source, see addAll). shadowed says
// another certificate may list the name too, for a patch that drops the
// first to look for the next.
type sniEntry struct {
	source   string
	shadowed bool
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
// and parsing (the private key above all) is what made applying them
// slow. Each pair counts the certificates of its snapshot that use it, so
// that a patch (see patch) drops a pair no longer used without a look at
// the others.
type keyPairs struct {
	inForce cowMap[keyPair] // what the snapshot in force uses
	next    cowMap[keyPair] // what the snapshot being compiled uses
	// parses counts the pairs parsed, patches the certificates patched
	// rather than compiled, for tests.
	parses, patches int
}

// keyPair is a parsed pair and the number of certificates using it.
type keyPair struct {
	cert  *tls.Certificate
	users int
}

// pairKey identifies a Secret version by content, without keeping a
// second copy of the private key's PEM in memory: the SHA-256 of the
// certificate's PEM, then of the key's.
type pairKey [2 * sha256.Size]byte

func pairKeyOf(sc *snapshot.Certificate) (k pairKey) {
	c, p := sha256.Sum256(sc.CertPEM), sha256.Sum256(sc.KeyPEM)
	copy(k[:], c[:])
	copy(k[sha256.Size:], p[:])
	return k
}

// compile builds the Certificates of s, reusing pairs parsed for the
// snapshot in force. Call commit once s is published.
func (kp *keyPairs) compile(s *snapshot.Snapshot) (*Certificates, error) {
	kp.next = cowMap[keyPair]{}
	c := &Certificates{}
	for i := range s.Certificates {
		sc := &s.Certificates[i]
		cert, err := kp.parse(sc)
		if err != nil {
			return nil, err
		}
		if err := c.addAll(sc, cert, i); err != nil {
			return nil, err
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

// addAll adds sc, the i-th certificate listed, served cert, under its
// Source; under one made unique with i when an earlier certificate of the
// list has that Source and another pair (no producer of ours does that).
func (c *Certificates) addAll(sc *snapshot.Certificate, cert *tls.Certificate, i int) error {
	source := sc.Source
	if other, ok := c.bySource.lookup(source); ok && other != cert {
		source = fmt.Sprintf("%s\x00%d", source, i)
	}
	c.bySource.set(source, cert)
	for _, h := range sc.Hosts {
		name, err := normaliseHostName(h)
		if err != nil {
			return fmt.Errorf("certificate from %s: %w", sc.Source, err)
		}
		c.add(name, source)
	}
	return nil
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
	pc := &Certificates{deepWildcards: true}
	for i := range p.Certificates {
		sc := &p.Certificates[i]
		cert, err := kp.parse(sc)
		if err != nil {
			return nil, err
		}
		if pc.fallback == nil {
			pc.fallback = cert
		}
		if err := pc.addAll(sc, cert, i); err != nil {
			return nil, err
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
	kp.inForce, kp.next = kp.next, cowMap[keyPair]{}
}

// parse returns sc's pair, parsed unless a certificate in force or
// compiled before uses it, and counts sc among its users.
func (kp *keyPairs) parse(sc *snapshot.Certificate) (*tls.Certificate, error) {
	k := pairKeyOf(sc)
	p, ok := kp.next.get(k[:])
	if !ok {
		p, ok = kp.inForce.get(k[:])
		p.users = 0 // of the snapshot being compiled
	}
	if !ok {
		kp.parses++
		var err error
		if p.cert, err = parsePair(sc); err != nil {
			return nil, err
		}
	}
	p.users++
	kp.next.set(string(k[:]), p)
	return p.cert, nil
}

// release undoes parse for a certificate of the snapshot in force that
// the one being patched from it no longer has.
func (kp *keyPairs) release(sc *snapshot.Certificate) {
	k := pairKeyOf(sc)
	switch p, ok := kp.next.get(k[:]); {
	case !ok:
	case p.users <= 1:
		kp.next.delete(string(k[:]))
	default:
		p.users--
		kp.next.set(string(k[:]), p)
	}
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
func (c *Certificates) add(host, source string) {
	m, key := c.sniMap(host)
	if e, taken := m.lookup(key); taken {
		e.shadowed = e.shadowed || e.source != source
		m.set(key, e)
		return
	}
	m.set(key, sniEntry{source: source})
}

// sniMap is the map a normalised host name goes in, and its key there.
func (c *Certificates) sniMap(host string) (*cowMap[sniEntry], string) {
	if suffix, ok := strings.CutPrefix(host, "*."); ok {
		return &c.wildcard, suffix
	}
	return &c.exact, host
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
	if e, ok := c.exact.get(name); ok {
		return c.served(e)
	}
	for dot := indexByte(name, '.'); dot > 0; dot = indexByte(name, '.') {
		name = name[dot+1:]
		if e, ok := c.wildcard.get(name); ok {
			return c.served(e)
		}
		if !c.deepWildcards {
			break
		}
	}
	return c.fallback
}

// served is the certificate of e.
func (c *Certificates) served(e sniEntry) *tls.Certificate {
	cert, _ := c.bySource.lookup(e.source)
	return cert
}
