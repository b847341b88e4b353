//go:build envtest

package reconcile_test

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// TestSecretsThroughTheCache: the Secret transform keeps what Baton uses.
// An Opaque Secret's CA bundle reaches an HTTPS Upstream, and the default
// certificate is found outside the watched namespace.
func TestSecretsThroughTheCache(t *testing.T) {
	e := newEnv(t, envOptions{defaultTLS: "fallback"})
	fallback := e.tlsSecret("fallback", "fallback.example.com")
	fallback.Namespace = e.ns + "-ctl"
	e.create(fallback)
	caPEM := e.tlsSecret("unused", "ca.example.com").Data[corev1.TLSCertKey]
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: e.ns}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"ca.crt": caPEM, "password": []byte("hunter2")}})
	e.create(&v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Name: "secure", Namespace: e.ns}, Spec: v1alpha1.UpstreamSpec{
		Endpoints: []v1alpha1.StaticEndpoint{{Address: "10.244.1.1", Port: 8443}},
		Protocol:  v1alpha1.ProtocolHTTPS,
		TLS:       &v1alpha1.UpstreamTLS{ServerName: "backend.internal", CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca"}}}})
	ing := e.ingress("secure", e.class, "s.example.com", "/", "unused", 80)
	ing.Spec.Rules[0].HTTP.Paths[0].Backend = upstreamBackend("secure")
	e.create(ing)

	name := "upstream/" + e.ns + "/secure"
	snap, _ := e.sink.waitFor(t, "with the HTTPS upstream and the default certificate", func(s *snapshot.Snapshot) bool {
		u := s.Upstream(name)
		return u != nil && len(u.Endpoints) == 1 && s.DefaultCertificate != nil
	})
	u := snap.Upstream(name)
	if u.Protocol != snapshot.ProtocolHTTPS || u.TLS.ServerName != "backend.internal" || !bytes.Equal(u.TLS.CAPEM, caPEM) {
		t.Errorf("upstream TLS = %+v, want HTTPS to backend.internal with the CA from the Opaque Secret", u.TLS)
	}
	if !bytes.Equal(snap.DefaultCertificate.CertPEM, fallback.Data[corev1.TLSCertKey]) {
		t.Errorf("default certificate is not the one from %s/fallback", fallback.Namespace)
	}
	e.waitUpstreamStatus("secure", 1, metav1.ConditionTrue, v1alpha1.ReasonReady, 1, 1)
}
