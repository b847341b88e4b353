package translate

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// lastGoodCertificate stands in for a Secret that is missing or invalid
// (problem says why) with the certificate last built from it, if the
// caller remembers one. Deleting or breaking a TLS Secret by mistake then
// degrades to a warning instead of taking HTTPS away from its hosts; the
// Secret's return, valid, replaces the kept certificate at once.
//
// The memory is the caller's (Input.LastGoodCertificates), so it lasts as
// long as the controller process: after a restart nothing is remembered
// and a missing Secret drops its certificate, as it always did.
func (t *translator) lastGoodCertificate(key types.NamespacedName, problem *Warning) (snapshot.Certificate, bool, *Warning) {
	last, ok := t.lastGood[key]
	if !ok {
		return snapshot.Certificate{}, false, problem
	}
	if _, err := tls.X509KeyPair(last.CertPEM, last.KeyPEM); err != nil {
		return snapshot.Certificate{}, false, problem // not what we handed out
	}
	// Hosts are this translation's business; a fresh slice also keeps
	// addCertificateHosts from appending into the caller's memory.
	last.Hosts = nil
	last.Source = key.String()
	w := &Warning{Reason: problem.Reason,
		Message: fmt.Sprintf("%s; still serving the last good certificate (%s)", problem.Message, describeLeaf(last.CertPEM))}
	return last, true, w
}

// describeLeaf names the first certificate of a PEM chain the way an
// operator compares it with `openssl x509 -serial -enddate`.
func describeLeaf(chain []byte) string {
	block, _ := pem.Decode(chain)
	if block == nil {
		return "unparsable PEM"
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "unparsable certificate"
	}
	return fmt.Sprintf("serial %X, notAfter %s", leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.RFC3339))
}
