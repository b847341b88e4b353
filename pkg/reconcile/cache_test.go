package reconcile

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testCertPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestSecretTransformKeepsOnlyWhatBatonUses(t *testing.T) {
	tests := []struct {
		name     string
		secret   corev1.Secret
		wantKeys []string
	}{
		{"tls keeps cert and key, drops the rest",
			secretOf(corev1.SecretTypeTLS, map[string]string{"tls.crt": testCertPEM, "tls.key": "KEY", "password": "hunter2"}),
			[]string{"tls.crt", "tls.key"}},
		{"tls keeps a CA bundle too",
			secretOf(corev1.SecretTypeTLS, map[string]string{"tls.crt": "garbage", "tls.key": "KEY", "ca.crt": testCertPEM}),
			[]string{"ca.crt", "tls.crt", "tls.key"}},
		{"opaque keeps PEM certificates only",
			secretOf(corev1.SecretTypeOpaque, map[string]string{"ca.crt": testCertPEM, "tls.key": "KEY", "token": "abc"}),
			[]string{"ca.crt"}},
		{"service account token keeps nothing",
			secretOf(corev1.SecretTypeServiceAccountToken, map[string]string{"token": "abc", "namespace": "default"}),
			nil},
		{"helm release keeps nothing",
			secretOf("helm.sh/release.v1", map[string]string{"release": "H4sIAAAA"}),
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.secret
			s.Annotations = map[string]string{lastApplied: `{"data":{"password":"aHVudGVyMg=="}}`, "keep": "me"}
			s.StringData = map[string]string{"x": "y"}
			s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
			got, err := secretTransform(&s)
			if err != nil {
				t.Fatal(err)
			}
			out := got.(*corev1.Secret)
			if keys := sortedKeys(out.Data); !equalStrings(keys, tc.wantKeys) {
				t.Errorf("kept keys %v, want %v", keys, tc.wantKeys)
			}
			if _, ok := out.Annotations[lastApplied]; ok || out.Annotations["keep"] != "me" {
				t.Errorf("annotations = %v, want last-applied dropped and others kept", out.Annotations)
			}
			if out.StringData != nil || out.ManagedFields != nil {
				t.Errorf("stringData %v / managedFields %v not dropped", out.StringData, out.ManagedFields)
			}
		})
	}
}

func TestSecretTransformPassesTombstones(t *testing.T) {
	in := "not a secret"
	if got, err := secretTransform(in); err != nil || got != in {
		t.Fatalf("secretTransform(%q) = %v, %v", in, got, err)
	}
}

func secretOf(typ corev1.SecretType, data map[string]string) corev1.Secret {
	s := corev1.Secret{Type: typ, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}
