//go:build envtest

package reconcile_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// TestDeletedSecretKeepsLastGoodCertificate: deleting an Ingress's TLS
// Secret, or breaking it, keeps its certificate in every later snapshot
// and puts a Warning Event on the Ingress; a valid Secret replaces it.
func TestDeletedSecretKeepsLastGoodCertificate(t *testing.T) {
	e := newEnv(t, envOptions{})
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1"})
	e.create(e.service("web", 80, "http"))
	e.create(slice)
	secret := e.tlsSecret("cert", "s.example.com")
	e.create(secret)
	ing := e.ingress("secure", e.class, "s.example.com", "/", "web", 80)
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"s.example.com"}, SecretName: "cert"}}
	e.create(ing)
	good := secret.Data[corev1.TLSCertKey]
	e.sink.waitFor(t, "with the certificate", func(s *snapshot.Snapshot) bool { return bytes.Equal(certOf(s, e.ns+"/cert"), good) })

	from := e.sink.count()
	if err := e.client.Delete(e.ctx, secret); err != nil {
		t.Fatal(err)
	}
	ev := e.waitEvent("secure", translate.ReasonSecretNotFound)
	want := fmt.Sprintf(`Secret "%s/cert" not found; still serving the last good certificate (serial 1, notAfter `, e.ns)
	if !strings.Contains(ev.Note, want) {
		t.Errorf("Event note = %q, want it to contain %q", ev.Note, want)
	}
	// The Event comes from the build after the deletion; a new endpoint
	// forces one more snapshot to be applied.
	e.moveEndpoint(slice, "10.244.0.2")
	e.checkCertSince(from, "cert", good)

	restored := e.tlsSecret("cert", "s.example.com")
	e.create(restored)
	fresh := restored.Data[corev1.TLSCertKey]
	e.sink.waitFor(t, "with the restored certificate", func(s *snapshot.Snapshot) bool { return bytes.Equal(certOf(s, e.ns+"/cert"), fresh) })

	// Broken in place: the restored certificate is the one kept now.
	from = e.sink.count()
	update(e, restored, func(s *corev1.Secret) { s.Data[corev1.TLSCertKey] = []byte("not a certificate") })
	ev = e.waitEvent("secure", translate.ReasonInvalidSecret)
	if !strings.Contains(ev.Note, "still serving the last good certificate") {
		t.Errorf("Event note = %q, want it to say the last good certificate is served", ev.Note)
	}
	e.moveEndpoint(slice, "10.244.0.3")
	e.checkCertSince(from, "cert", fresh)
}

// TestDefaultCertificateOpaqueThenTLS: the default certificate's Secret
// exists as Opaque when the controller starts (so it is refused), then is
// deleted and created again as kubernetes.io/tls; the controller serves it
// without a restart.
func TestDefaultCertificateOpaqueThenTLS(t *testing.T) {
	var opaque *corev1.Secret
	e := newEnv(t, envOptions{defaultTLS: "fallback", beforeRun: func(e *env) {
		opaque = e.tlsSecret("fallback", "fallback.example.com")
		opaque.Namespace, opaque.Type = e.ns+"-ctl", corev1.SecretTypeOpaque
		e.create(opaque)
	}})
	e.create(e.service("web", 80, "http"))
	e.create(e.ingress("web", e.class, "a.example.com", "/", "web", 80))
	snap, _ := e.sink.waitFor(t, "routing a.example.com", func(s *snapshot.Snapshot) bool { return findHost(s, "a.example.com") != nil })
	if snap.DefaultCertificate != nil {
		t.Fatalf("an Opaque Secret became the default certificate")
	}

	if err := e.client.Delete(e.ctx, opaque); err != nil {
		t.Fatal(err)
	}
	tlsSecret := e.tlsSecret("fallback", "fallback.example.com")
	tlsSecret.Namespace = e.ns + "-ctl"
	e.create(tlsSecret)
	want := tlsSecret.Data[corev1.TLSCertKey]
	e.sink.waitFor(t, "with the kubernetes.io/tls default certificate", func(s *snapshot.Snapshot) bool {
		return s.DefaultCertificate != nil && bytes.Equal(s.DefaultCertificate.CertPEM, want)
	})
}

// moveEndpoint gives the Service web the single endpoint addr and waits
// for the snapshot that has it.
func (e *env) moveEndpoint(slice *discoveryv1.EndpointSlice, addr string) {
	e.t.Helper()
	update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, []string{addr}) })
	e.sink.waitFor(e.t, "with endpoint "+addr, func(s *snapshot.Snapshot) bool {
		eps := endpointsOf(s, "service/"+e.ns+"/web/80")
		return len(eps) == 1 && eps[0] == addr+":8080"
	})
}

// checkCertSince fails unless every snapshot applied since the first from
// serves exactly certPEM from the Secret called name.
func (e *env) checkCertSince(from int, name string, certPEM []byte) {
	e.t.Helper()
	e.sink.mu.Lock()
	since := append([]*snapshot.Snapshot(nil), e.sink.applied[from:]...)
	e.sink.mu.Unlock()
	if len(since) == 0 {
		e.t.Fatalf("no snapshot applied since %d", from)
	}
	for _, s := range since {
		if !bytes.Equal(certOf(s, e.ns+"/"+name), certPEM) {
			e.t.Errorf("snapshot %d does not serve the last good certificate of %s: %s", s.Version, name, describe(s))
		}
	}
}

// certOf is the certificate chain served from the Secret source, or nil.
func certOf(s *snapshot.Snapshot, source string) []byte {
	for _, c := range s.Certificates {
		if c.Source == source {
			return c.CertPEM
		}
	}
	return nil
}
