package translate

import (
	"bytes"
	"crypto/tls"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// tlsClaim records which Ingress serves a TLS host, with which Secret.
type tlsClaim struct {
	ingress string
	secret  types.NamespacedName
}

// addTLS serves the certificates of the Ingress's tls entries for the
// hosts no older Ingress serves with another Secret.
func (t *translator) addTLS(p *ingressPlan, r *report) {
	for i := range p.tls {
		entry := &p.tls[i]
		for j := range entry.warnings {
			r.add(&entry.warnings[j])
		}
		hosts := t.claimTLSHosts(p.source, entry.secret, entry.hosts, r)
		if len(hosts) == 0 {
			continue
		}
		cert, ok, w := t.certificate(entry.secret)
		if w != nil {
			r.add(w)
		}
		if ok {
			t.addCertificateHosts(cert, hosts)
		}
	}
}

// tlsHosts are the entry's hosts, or the hosts of ing's rules when the
// entry lists none.
func tlsHosts(ing *networkingv1.Ingress, entry *networkingv1.IngressTLS, r *report) []string {
	var hosts []string
	for _, h := range entry.Hosts {
		h = strings.ToLower(h)
		if err := validateHost(h); err != nil || h == "" {
			r.add(warnf(ReasonInvalidHost, "TLS host %q is not used: not a DNS name or wildcard", h))
			continue
		}
		hosts = append(hosts, h)
	}
	if len(entry.Hosts) > 0 {
		return hosts
	}
	for _, rule := range ing.Spec.Rules {
		h := strings.ToLower(rule.Host)
		if h != "" && validateHost(h) == nil && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		r.add(warnf(ReasonInvalidHost, "TLS entry for Secret %q is not used: it lists no hosts and no rule names one", entry.SecretName))
	}
	return hosts
}

// claimTLSHosts returns the hosts the Ingress source may serve with
// secret: those not yet claimed, or claimed with the same Secret.
func (t *translator) claimTLSHosts(source string, secret types.NamespacedName, hosts []string, r *report) []string {
	var mine []string
	for _, h := range hosts {
		c, taken := t.tlsOwner[h]
		if taken && c.secret != secret {
			r.add(tlsConflict(h, secret, c, source))
			continue
		}
		if !taken {
			t.tlsOwner[h] = tlsClaim{ingress: source, secret: secret}
		}
		mine = append(mine, h)
	}
	return mine
}

func tlsConflict(host string, secret types.NamespacedName, owner tlsClaim, source string) *Warning {
	if owner.ingress == source {
		return warnf(ReasonTLSConflict, "TLS host %q is not served with Secret %q: an earlier tls entry of this Ingress serves it with Secret %q",
			host, secret, owner.secret)
	}
	return warnf(ReasonTLSConflict, "TLS host %q is not served with Secret %q: Ingress %q is older and serves it with Secret %q",
		host, secret, owner.ingress, owner.secret)
}

func (t *translator) addCertificateHosts(cert snapshot.Certificate, hosts []string) {
	key := cert.Source
	c, ok := t.certs[key]
	if !ok {
		c = &cert
		t.certs[key] = c
	}
	for _, h := range hosts {
		if !slices.Contains(c.Hosts, h) {
			c.Hosts = append(c.Hosts, h)
		}
	}
}

// defaultCertificate loads the certificate offered when SNI matches none.
func (t *translator) defaultCertificate(key *types.NamespacedName) {
	if key == nil {
		return
	}
	cert, ok, w := t.certificate(*key)
	if w != nil {
		t.warnings = append(t.warnings, Warning{Reason: w.Reason, Message: "default certificate: " + w.Message})
	}
	if ok {
		t.defaultCert = &cert
	}
}

// certificate loads and checks a kubernetes.io/tls Secret, once per
// translation. ok tells whether cert can be served: the Secret's own, or
// the last good one of a Secret gone missing or invalid (then with a
// warning that says so). Every servable certificate is recorded in
// t.good for the caller to pass back next time.
func (t *translator) certificate(key types.NamespacedName) (cert snapshot.Certificate, ok bool, w *Warning) {
	if c, seen := t.certCache[key]; seen {
		return c.cert, c.ok, c.warning
	}
	cert, w = t.loadCertificate(key)
	ok = w == nil
	if !ok {
		cert, ok, w = t.lastGoodCertificate(key, w)
	}
	t.certCache[key] = cachedCert{cert: cert, ok: ok, warning: w}
	if ok {
		t.good[key] = cert
	}
	return cert, ok, w
}

type cachedCert struct {
	cert    snapshot.Certificate
	ok      bool
	warning *Warning
}

func loadCertificate(s *corev1.Secret, key types.NamespacedName) (snapshot.Certificate, *Warning) {
	if s == nil {
		return snapshot.Certificate{}, warnf(ReasonSecretNotFound, "Secret %q not found", key)
	}
	if s.Type != corev1.SecretTypeTLS {
		return snapshot.Certificate{}, warnf(ReasonInvalidSecret, "Secret %q has type %q, not %q", key, s.Type, corev1.SecretTypeTLS)
	}
	crt, k := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(k) == 0 {
		return snapshot.Certificate{}, warnf(ReasonInvalidSecret, "Secret %q lacks %s or %s", key, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(crt, k); err != nil {
		return snapshot.Certificate{}, warnf(ReasonInvalidSecret, "Secret %q holds no usable certificate and key: %v", key, err)
	}
	// Copies keep the snapshot immutable even if the cache object changes.
	return snapshot.Certificate{CertPEM: bytes.Clone(crt), KeyPEM: bytes.Clone(k), Source: key.String()}, nil
}
