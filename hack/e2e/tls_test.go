package e2e

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

// TestTLSDefaultBackendAndServiceRef serves HTTPS with the certificate of
// an Ingress's TLS Secret chosen by SNI, routes through an Upstream that
// references a Service, and sends unmatched requests to the default backend.
func TestTLSDefaultBackendAndServiceRef(t *testing.T) {
	ns := namespace(t, "tls")
	pods := startPods(t, 13, 14)
	up := &v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "via-service"},
		Spec: v1alpha1.UpstreamSpec{ServiceRef: &v1alpha1.ServiceRef{Name: "web", Port: v1alpha1.ServicePort{Name: "http"}}}}
	ing := ingressToUpstream(ns, "secure", "tls", "secure.test", "via-service")
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"secure.test"}, SecretName: "secure-cert"}}
	fallback := ingress(ns, "fallback", "tls")
	fallback.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: "other", Port: networkingv1.ServiceBackendPort{Name: "http"}}}
	create(t, ingressClass("tls"), service(ns, "web"), endpointSlice(ns, "web", pods[0]),
		service(ns, "other"), endpointSlice(ns, "other", pods[1]), tlsSecret(t, ns, "secure-cert", "secure.test"),
		up, ing, fallback)
	b := startBaton(t, "tls")

	expectPod(t, b.HTTPAddr, "nothing-matches.test", "/", "pod-14") // default backend
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{ServerName: "secure.test", InsecureSkipVerify: true}}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+b.HTTPSAddr+"/", nil)
	req.Host = "secure.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "secure.test" {
		t.Errorf("served certificate %q for SNI secure.test", cn)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Pod") != "pod-13" || resp.ProtoMajor != 2 {
		t.Errorf("https://secure.test/: %d from %q over %s, want 200 from pod-13 over HTTP/2", resp.StatusCode, resp.Header.Get("X-Pod"), resp.Proto)
	}
}

func tlsSecret(t *testing.T, ns, name, host string) *corev1.Secret {
	t.Helper()
	c, err := snapshottest.SelfSigned(host, host)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: c.CertPEM, corev1.TLSPrivateKeyKey: c.KeyPEM}}
}
