package reconcile

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
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

// The informer cache keeps of a slice's endpoints what routing reads, and
// of any object neither managed fields nor kubectl's last-applied copy.
func TestSliceTransformKeepsWhatRoutingReads(t *testing.T) {
	node, zone := "node-1", "zone-a"
	ready := true
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{discoveryv1.LabelServiceName: "svc"},
			Annotations:   map[string]string{lastApplied: `{"big":"copy"}`, "keep": "me"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}},
		Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-abc"}, NodeName: &node, Zone: &zone,
			Hints:              &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: zone}}},
			DeprecatedTopology: map[string]string{"k": "v"},
		}},
	}
	want := discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
	got, err := sliceTransform(s)
	if err != nil {
		t.Fatal(err)
	}
	out := got.(*discoveryv1.EndpointSlice)
	if !reflect.DeepEqual(out.Endpoints, []discoveryv1.Endpoint{want}) || len(out.Ports) != 1 || out.Labels[discoveryv1.LabelServiceName] != "svc" {
		t.Errorf("slice after transform: %+v", out)
	}
	if _, ok := out.Annotations[lastApplied]; ok || out.Annotations["keep"] != "me" || out.ManagedFields != nil {
		t.Errorf("annotations %v, managed fields %v: want last-applied and managed fields dropped, the rest kept", out.Annotations, out.ManagedFields)
	}
	if in := "tombstone"; mustTransform(t, sliceTransform, in) != in || mustTransform(t, objectTransform, in) != in {
		t.Error("a tombstone is not passed through")
	}
}

func mustTransform(t *testing.T, f func(any) (any, error), in any) any {
	t.Helper()
	out, err := f(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
