package translate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func TestTLS(t *testing.T) {
	routes := []snapshot.VirtualHost{
		vhost("a.com", prefixRoute("/", "service/default/web/80", "default/i")),
		vhost("b.com", prefixRoute("/", "service/default/web/80", "default/i")),
	}
	rules := []ingressOption{
		rule("a.com", prefix("/", backend("web", 80))),
		rule("b.com", prefix("/", backend("web", 80))),
	}
	ing := func(opts ...ingressOption) networkingv1.Ingress {
		return ingress("default", "i", 0, append(rules, opts...)...)
	}
	snap := func(certs ...snapshot.Certificate) *snapshot.Snapshot {
		return &snapshot.Snapshot{Hosts: routes, Upstreams: []snapshot.Upstream{webUpstream("default")}, Certificates: certs}
	}
	bad := func(s corev1.Secret) tcase {
		return tcase{
			in:       input(with(web("default"), s, ing(tlsFor("cert", "a.com")))...),
			want:     snap(),
			warnings: map[string][]string{"default/i": {ReasonInvalidSecret}},
		}
	}
	cases := map[string]tcase{
		"listed hosts, lower-cased": {
			in:       input(with(web("default"), tlsSecret("default", "cert"), ing(tlsFor("cert", "B.com", "a.com")))...),
			want:     snap(cert("default/cert", "a.com", "b.com")),
			warnings: map[string][]string{"default/i": nil},
		},
		"no hosts means the rule hosts": {
			in:       input(with(web("default"), tlsSecret("default", "cert"), ing(tlsFor("cert")))...),
			want:     snap(cert("default/cert", "a.com", "b.com")),
			warnings: map[string][]string{"default/i": nil},
		},
		"no secretName means the default certificate": {
			in:       input(with(web("default"), ing(tlsFor("", "a.com")))...),
			want:     snap(),
			warnings: map[string][]string{"default/i": nil},
		},
		"one entry's missing secret leaves the other entry and all routes": {
			in: input(with(web("default"), tlsSecret("default", "cert"),
				ing(tlsFor("nope", "a.com"), tlsFor("cert", "b.com")))...),
			want:     snap(cert("default/cert", "b.com")),
			warnings: map[string][]string{"default/i": {ReasonSecretNotFound}},
		},
		"wrong type": bad(secretOf("default", "cert", corev1.SecretTypeOpaque, map[string][]byte{
			corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM})),
		"missing key": bad(secretOf("default", "cert", corev1.SecretTypeTLS, map[string][]byte{
			corev1.TLSCertKey: certPEM})),
		"garbage PEM": bad(secretOf("default", "cert", corev1.SecretTypeTLS, map[string][]byte{
			corev1.TLSCertKey: []byte("not pem"), corev1.TLSPrivateKeyKey: keyPEM})),
		"certificate and key do not match": bad(secretOf("default", "cert", corev1.SecretTypeTLS, map[string][]byte{
			corev1.TLSCertKey: otherCertPEM, corev1.TLSPrivateKeyKey: keyPEM})),
		"invalid TLS host": {
			in:       input(with(web("default"), tlsSecret("default", "cert"), ing(tlsFor("cert", "a.com", "not a host")))...),
			want:     snap(cert("default/cert", "a.com")),
			warnings: map[string][]string{"default/i": {ReasonInvalidHost}},
		},
	}
	run(t, cases)
}

func TestTLSHostConflictOldestWins(t *testing.T) {
	objs := with(web("default"), tlsSecret("default", "old"), tlsSecret("default", "new"), tlsSecret("default", "shared"))
	older := ingress("default", "older", 0, rule("a.com", prefix("/", backend("web", 80))),
		tlsFor("old", "a.com"), tlsFor("shared", "c.com"))
	newer := ingress("default", "newer", 10, rule("a.com", prefix("/n", backend("web", 80))),
		tlsFor("new", "a.com", "b.com"), tlsFor("shared", "c.com"))
	out := Translate(input(with(objs, newer, older)...))
	mustEqualJSON(t, "certificates", out.Snapshot.Certificates, []snapshot.Certificate{
		cert("default/new", "b.com"), cert("default/old", "a.com"), cert("default/shared", "c.com")})
	mustEqualJSON(t, "older", reasons(out, "default/older"), []string{})
	mustEqualJSON(t, "newer", reasons(out, "default/newer"), []string{ReasonTLSConflict})
	w := out.Ingresses.Slice()[0].Warnings[0] // "newer" sorts first
	want := `TLS host "a.com" is not served with Secret "default/new": Ingress "default/older" is older and serves it with Secret "default/old"`
	if w.Message != want {
		t.Errorf("message = %q, want %q", w.Message, want)
	}
}

func TestDefaultCertificate(t *testing.T) {
	in := input(tlsSecret("baton-system", "default-cert"))
	in.DefaultTLSSecret = &types.NamespacedName{Namespace: "baton-system", Name: "default-cert"}
	out := Translate(in)
	want := cert("baton-system/default-cert")
	mustEqualJSON(t, "default certificate", out.Snapshot.DefaultCertificate, &want)
	if len(out.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", out.Warnings)
	}

	in.DefaultTLSSecret.Name = "missing"
	out = Translate(in)
	if out.Snapshot.DefaultCertificate != nil {
		t.Errorf("default certificate from a missing Secret: %+v", out.Snapshot.DefaultCertificate)
	}
	mustEqualJSON(t, "warnings", out.Warnings, []Warning{{Reason: ReasonSecretNotFound,
		Message: `default certificate: Secret "baton-system/missing" not found`}})
}
