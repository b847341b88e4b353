package translate

import (
	"bytes"
	"maps"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// A second valid pair: the Secret as it is after it was restored.
var restoredCertPEM, restoredKeyPEM = makeCert("restored.example.com")

func TestLastGoodCertificate(t *testing.T) {
	key := types.NamespacedName{Namespace: "default", Name: "cert"}
	kept := "still serving the last good certificate (serial 1, notAfter 2026-01-02T00:00:00Z)"
	remembered := map[types.NamespacedName]snapshot.Certificate{key: cert("default/cert", "stale.host.example")}
	withTLS := func(objs ...any) Input {
		in := input(with(web("default"), append(objs, ingress("default", "i", 0,
			rule("a.com", prefix("/", backend("web", 80))), tlsFor("cert", "a.com")))...)...)
		in.LastGoodCertificates = remembered
		return in
	}
	restored := secretOf("default", "cert", corev1.SecretTypeTLS, map[string][]byte{
		corev1.TLSCertKey: restoredCertPEM, corev1.TLSPrivateKeyKey: restoredKeyPEM})
	cases := map[string]struct {
		in        Input
		wantCerts []snapshot.Certificate
		wantWarn  []Warning
		wantGood  map[string][]byte // Secret → CertPEM
	}{
		"deleted: the last good certificate is kept, with a warning": {
			in:        withTLS(),
			wantCerts: []snapshot.Certificate{cert("default/cert", "a.com")},
			wantWarn:  []Warning{{ReasonSecretNotFound, `Secret "default/cert" not found; ` + kept}},
			wantGood:  map[string][]byte{"default/cert": certPEM},
		},
		"invalid: the last good certificate is kept, with a warning": {
			in: withTLS(secretOf("default", "cert", corev1.SecretTypeTLS, map[string][]byte{
				corev1.TLSCertKey: []byte("garbage"), corev1.TLSPrivateKeyKey: keyPEM})),
			wantCerts: []snapshot.Certificate{cert("default/cert", "a.com")},
			wantWarn: []Warning{{ReasonInvalidSecret, `Secret "default/cert" holds no usable certificate and key: ` +
				`tls: failed to find any PEM data in certificate input; ` + kept}},
			wantGood: map[string][]byte{"default/cert": certPEM},
		},
		"wrong type: the last good certificate is kept, with a warning": {
			in: withTLS(secretOf("default", "cert", corev1.SecretTypeOpaque, map[string][]byte{
				corev1.TLSCertKey: restoredCertPEM, corev1.TLSPrivateKeyKey: restoredKeyPEM})),
			wantCerts: []snapshot.Certificate{cert("default/cert", "a.com")},
			wantWarn:  []Warning{{ReasonInvalidSecret, `Secret "default/cert" has type "Opaque", not "kubernetes.io/tls"; ` + kept}},
			wantGood:  map[string][]byte{"default/cert": certPEM},
		},
		"never seen: dropped as without memory": {
			in: func() Input {
				in := withTLS()
				in.LastGoodCertificates = map[types.NamespacedName]snapshot.Certificate{
					{Namespace: "other", Name: "cert"}: cert("other/cert")}
				return in
			}(),
			wantWarn: []Warning{{ReasonSecretNotFound, `Secret "default/cert" not found`}},
			wantGood: map[string][]byte{},
		},
		"restored: the new certificate is served, no warning": {
			in:        withTLS(restored),
			wantCerts: []snapshot.Certificate{{Hosts: []string{"a.com"}, CertPEM: restoredCertPEM, KeyPEM: restoredKeyPEM, Source: "default/cert"}},
			wantGood:  map[string][]byte{"default/cert": restoredCertPEM},
		},
		"no longer referenced: not kept": {
			in: func() Input {
				in := input(with(web("default"), ingress("default", "i", 0, rule("a.com", prefix("/", backend("web", 80)))))...)
				in.LastGoodCertificates = remembered
				return in
			}(),
			wantGood: map[string][]byte{},
		},
		"a remembered pair that does not parse is not served": {
			in: func() Input {
				in := withTLS()
				in.LastGoodCertificates = map[types.NamespacedName]snapshot.Certificate{key: {CertPEM: certPEM, KeyPEM: restoredKeyPEM}}
				return in
			}(),
			wantWarn: []Warning{{ReasonSecretNotFound, `Secret "default/cert" not found`}},
			wantGood: map[string][]byte{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := maps.Clone(tc.in.LastGoodCertificates)
			out := Translate(tc.in)
			mustEqualJSON(t, "certificates", out.Snapshot.Certificates, tc.wantCerts)
			if out.Ingresses.Len() != 1 {
				t.Fatalf("ingress results = %+v", out.Ingresses)
			}
			mustEqualJSON(t, "warnings", out.Ingresses.Slice()[0].Warnings, tc.wantWarn)
			mustEqualJSON(t, "good certificates", goodPEMs(out), tc.wantGood)
			if !reflect.DeepEqual(tc.in.LastGoodCertificates, before) {
				t.Errorf("Translate modified Input.LastGoodCertificates")
			}
		})
	}
}

// TestLastGoodCertificateConditions: a kept certificate is still an
// unresolved reference, so ResolvedRefs is False and says what is served.
func TestLastGoodCertificateConditions(t *testing.T) {
	in := input(with(web("default"), ingress("default", "i", 0,
		rule("a.com", prefix("/", backend("web", 80))), tlsFor("cert", "a.com")))...)
	in.LastGoodCertificates = map[types.NamespacedName]snapshot.Certificate{{Namespace: "default", Name: "cert"}: cert("default/cert")}
	out := Translate(in)
	c := out.Ingresses.Slice()[0].Conditions[1]
	if c.Type != ConditionResolvedRefs || c.Status != "False" || c.Reason != ReasonSecretNotFound ||
		!bytes.Contains([]byte(c.Message), []byte("still serving the last good certificate")) {
		t.Errorf("ResolvedRefs = %+v", c)
	}
}

func TestLastGoodDefaultCertificate(t *testing.T) {
	key := types.NamespacedName{Namespace: "baton-system", Name: "default-cert"}
	in := input()
	in.DefaultTLSSecret = &key
	out := Translate(in)
	if out.Snapshot.DefaultCertificate != nil {
		t.Fatalf("default certificate without Secret or memory: %+v", out.Snapshot.DefaultCertificate)
	}

	in.LastGoodCertificates = map[types.NamespacedName]snapshot.Certificate{key: cert("baton-system/default-cert")}
	out = Translate(in)
	want := cert("baton-system/default-cert")
	mustEqualJSON(t, "default certificate", out.Snapshot.DefaultCertificate, &want)
	mustEqualJSON(t, "warnings", out.Warnings, []Warning{{ReasonSecretNotFound,
		`default certificate: Secret "baton-system/default-cert" not found; still serving the last good certificate (serial 1, notAfter 2026-01-02T00:00:00Z)`}})
	mustEqualJSON(t, "good", goodPEMs(out), map[string][]byte{"baton-system/default-cert": certPEM})

	in.Secrets = []corev1.Secret{secretOf(key.Namespace, key.Name, corev1.SecretTypeTLS, map[string][]byte{
		corev1.TLSCertKey: restoredCertPEM, corev1.TLSPrivateKeyKey: restoredKeyPEM})}
	out = Translate(in)
	if out.Snapshot.DefaultCertificate == nil || !bytes.Equal(out.Snapshot.DefaultCertificate.CertPEM, restoredCertPEM) || len(out.Warnings) != 0 {
		t.Errorf("restored default certificate: %+v, warnings %v", out.Snapshot.DefaultCertificate, out.Warnings)
	}
}

// TestLastGoodCertificatesRoundTrip feeds each Output back as the next
// Input, the way the controller does, through delete, restore and unuse.
func TestLastGoodCertificatesRoundTrip(t *testing.T) {
	ing := ingress("default", "i", 0, rule("a.com", prefix("/", backend("web", 80))), tlsFor("cert", "a.com"))
	bare := ingress("default", "i", 0, rule("a.com", prefix("/", backend("web", 80))))
	steps := []struct {
		objs     []any
		wantLeaf []byte // nil: no certificate
	}{
		{with(web("default"), tlsSecret("default", "cert"), ing), certPEM},
		{with(web("default"), ing), certPEM}, // deleted
		{with(web("default"), ing), certPEM}, // still deleted, still kept
		{with(web("default"), ing, secretOf("default", "cert", corev1.SecretTypeTLS, map[string][]byte{
			corev1.TLSCertKey: restoredCertPEM, corev1.TLSPrivateKeyKey: restoredKeyPEM})), restoredCertPEM},
		{with(web("default"), ing), restoredCertPEM}, // deleted again: the newer one is kept
		{with(web("default"), bare), nil},            // unreferenced: forgotten
		{with(web("default"), ing), nil},             // referenced again while missing: nothing to keep
	}
	var last map[types.NamespacedName]snapshot.Certificate
	for i, s := range steps {
		in := input(s.objs...)
		in.LastGoodCertificates = last
		out := Translate(in)
		var got []byte
		if len(out.Snapshot.Certificates) == 1 {
			got = out.Snapshot.Certificates[0].CertPEM
		}
		if !bytes.Equal(got, s.wantLeaf) {
			t.Fatalf("step %d: served %q, want %q", i, got, s.wantLeaf)
		}
		last = out.GoodCertificates
	}
}

// goodPEMs is Output.GoodCertificates keyed by string (JSON needs that),
// with just the certificate chain.
func goodPEMs(out Output) map[string][]byte {
	m := map[string][]byte{}
	for k, c := range out.GoodCertificates {
		if len(c.Hosts) != 0 || c.Source != k.String() {
			m[k.String()] = []byte("unexpected Hosts or Source: " + c.Source)
			continue
		}
		m[k.String()] = c.CertPEM
	}
	return m
}
