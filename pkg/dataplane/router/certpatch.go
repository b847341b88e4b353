package router

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// patchable tells whether the certificates of s can be patched from those
// of prev, the snapshot in force: both lists sorted by Source, each
// Source once, so that a walk over both finds what changed and the
// precedence of two certificates listing one name is their Sources'
// order (the translate Cache lists them so). The same snapshot again may
// have been modified in place, so nothing of it can be trusted.
func patchable(prev, s *snapshot.Snapshot, inForce *Certificates) bool {
	return prev != nil && prev != s && inForce != nil && bySource(prev.Certificates) && bySource(s.Certificates)
}

func bySource(certs []snapshot.Certificate) bool {
	for i := 1; i < len(certs); i++ {
		if certs[i-1].Source >= certs[i].Source {
			return false
		}
	}
	return true
}

// patch builds the Certificates of s from inForce, those of prev: a
// certificate of s equal to prev's of its Source keeps its names and its
// pair; the others are parsed (unless their pair is in use) and claim
// their names, and the names of those s changed or dropped lose them. A
// Secret rotated among thousands costs its own names, not everyone's
// (issue 10). Call commit once s is published.
func (kp *keyPairs) patch(prev, s *snapshot.Snapshot, inForce *Certificates) (*Certificates, error) {
	kp.next, kp.patches = kp.inForce.copyOnWrite(), kp.patches+1
	c := &Certificates{exact: inForce.exact.copyOnWrite(), wildcard: inForce.wildcard.copyOnWrite(),
		bySource: inForce.bySource.copyOnWrite(), fallback: inForce.fallback}
	if err := kp.patchListed(c, prev.Certificates, s.Certificates); err != nil {
		return nil, err
	}
	if err := kp.patchFallback(c, prev.DefaultCertificate, s.DefaultCertificate); err != nil {
		return nil, err
	}
	if sameGateways(prev.Gateways, s.Gateways) {
		c.gwAddrs, c.gwPorts = inForce.gwAddrs, inForce.gwPorts
		return c, nil
	}
	kp.releaseGateways(prev.Gateways)
	if err := kp.compileGateways(c, s.Gateways); err != nil {
		return nil, err
	}
	return c, nil
}

// patchListed walks the lists before and after (both by Source) and
// patches c where they differ.
func (kp *keyPairs) patchListed(c *Certificates, before, after []snapshot.Certificate) error {
	var orphans []string // names whose certificate went, which another may list
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		var err error
		switch k := compareNamed(before, after, i, j, certSource); {
		case k < 0:
			orphans = kp.remove(c, &before[i], orphans)
			c.bySource.delete(before[i].Source)
			i++
		case k > 0:
			err = kp.put(c, &after[j], true)
			j++
		case !sameCertificate(&before[i], &after[j]):
			// A rotated Secret keeps its names: its new pair is all
			// there is to write.
			newNames := !slices.Equal(before[i].Hosts, after[j].Hosts)
			if newNames {
				orphans = kp.remove(c, &before[i], orphans)
			} else {
				kp.release(&before[i])
			}
			err = kp.put(c, &after[j], newNames)
			i, j = i+1, j+1
		default:
			i, j = i+1, j+1
		}
		if err != nil {
			return err
		}
	}
	for _, name := range orphans {
		c.reclaim(name, after)
	}
	return nil
}

// remove releases sc's pair and drops its names (see drop).
func (kp *keyPairs) remove(c *Certificates, sc *snapshot.Certificate, orphans []string) []string {
	kp.release(sc)
	return c.drop(sc, orphans)
}

// put parses sc's pair into bySource and, with names, has sc claim its
// names.
func (kp *keyPairs) put(c *Certificates, sc *snapshot.Certificate, names bool) error {
	cert, err := kp.parse(sc)
	if err != nil {
		return err
	}
	c.bySource.set(sc.Source, cert)
	if !names {
		return nil
	}
	return c.claimAll(sc)
}

func certSource(c *snapshot.Certificate) string { return c.Source }

// sameCertificate tells whether a and b, of one Source, serve the same
// pair to the same names. Slices a producer shares compare at once.
func sameCertificate(a, b *snapshot.Certificate) bool {
	return slices.Equal(a.Hosts, b.Hosts) && bytes.Equal(a.CertPEM, b.CertPEM) && bytes.Equal(a.KeyPEM, b.KeyPEM)
}

// drop takes sc's names from c where sc serves them; a name another
// certificate may list too goes to orphans instead, for reclaim.
func (c *Certificates) drop(sc *snapshot.Certificate, orphans []string) []string {
	for _, h := range sc.Hosts {
		name, err := normaliseHostName(h)
		if err != nil {
			continue // never added
		}
		m, key := c.sniMap(name)
		switch e, ok := m.lookup(key); {
		case !ok || e.source != sc.Source:
		case e.shadowed:
			orphans = append(orphans, name)
		default:
			m.delete(key)
		}
	}
	return orphans
}

// claimAll gives sc's names sc where it comes before the certificate
// serving them, as add does for a list compiled in order.
func (c *Certificates) claimAll(sc *snapshot.Certificate) error {
	for _, h := range sc.Hosts {
		name, err := normaliseHostName(h)
		if err != nil {
			return fmt.Errorf("certificate from %s: %w", sc.Source, err)
		}
		m, key := c.sniMap(name)
		switch e, ok := m.lookup(key); {
		case !ok:
			m.set(key, sniEntry{source: sc.Source})
		case e.source == sc.Source: // sc lists the name twice
		case sc.Source < e.source:
			m.set(key, sniEntry{source: sc.Source, shadowed: true})
		default:
			e.shadowed = true
			m.set(key, e)
		}
	}
	return nil
}

// reclaim gives name the first certificate of certs that lists it, or
// none. It looks at every name of every certificate, which only a name
// two certificates list costs: Ingresses seldom disagree on a Secret.
func (c *Certificates) reclaim(name string, certs []snapshot.Certificate) {
	m, key := c.sniMap(name)
	m.delete(key)
	for i := range certs {
		sc := &certs[i]
		if !slices.ContainsFunc(sc.Hosts, func(h string) bool { n, err := normaliseHostName(h); return err == nil && n == name }) {
			continue
		}
		if e, ok := m.lookup(key); ok {
			e.shadowed = true
			m.set(key, e)
			return
		}
		m.set(key, sniEntry{source: sc.Source})
	}
}

// patchFallback gives c the default certificate of after, parsed unless
// it equals before's.
func (kp *keyPairs) patchFallback(c *Certificates, before, after *snapshot.Certificate) error {
	if before == after || reflect.DeepEqual(before, after) {
		return nil
	}
	if before != nil {
		kp.release(before)
	}
	c.fallback = nil
	if after == nil {
		return nil
	}
	cert, err := kp.parse(after)
	c.fallback = cert
	return err
}

// releaseGateways undoes the parses of compileGateways for gws, the
// gateways in force.
func (kp *keyPairs) releaseGateways(gws []snapshot.Gateway) {
	for i := range gws {
		for j := range gws[i].Ports {
			p := &gws[i].Ports[j]
			if !p.TLS {
				continue
			}
			for k := range p.Certificates {
				kp.release(&p.Certificates[k])
			}
		}
	}
}
