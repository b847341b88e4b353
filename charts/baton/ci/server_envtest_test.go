//go:build envtest

package ci

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestAPIServerAcceptsEveryVariant dry-run creates every rendered object
// in a real kube-apiserver with strict field validation, with the chart's
// own CRD installed: what `helm install` would send. The ServiceMonitor is
// left out (its CRD belongs to the Prometheus Operator); the unit tests
// check its fields.
func TestAPIServerAcceptsEveryVariant(t *testing.T) {
	env := &envtest.Environment{
		BinaryAssetsDirectory: filepath.Join(root, "bin"),
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from bin/ (run make tools): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			m := render(t, v.args...)
			objs := unstructuredObjects(m)
			createNamespaces(t, c, objs)
			objs = createCRDs(t, c, objs)
			for _, u := range objs {
				err := dryRunCreate(c, u)
				if err != nil {
					t.Errorf("%s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
				}
			}
		})
	}
}

// unstructuredObjects are the rendered objects exactly as helm sends
// them, but for kinds whose CRD is not installed.
func unstructuredObjects(m *manifest) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for _, doc := range m.docs {
		if doc["kind"] != "ServiceMonitor" {
			objs = append(objs, &unstructured.Unstructured{Object: doc})
		}
	}
	return objs
}

// createCRDs creates, for real, the CRDs the chart renders (the Gateway
// API ones with gatewayAPI.installCRDs), since objects of their kinds
// (the GatewayClass) can only be dry-run once they are served; it returns
// the other objects.
func createCRDs(t *testing.T, c client.Client, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var rest []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			rest = append(rest, u)
			continue
		}
		err := c.Create(context.Background(), u.DeepCopy(), client.FieldValidation("Strict"))
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("CustomResourceDefinition %s: %v", u.GetName(), err)
		}
	}
	return rest
}

// dryRunCreate retries while the object's kind is not served yet: a CRD
// just created takes a moment to be established.
func dryRunCreate(c client.Client, u *unstructured.Unstructured) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Create(context.Background(), u.DeepCopy(), client.DryRunAll, client.FieldValidation("Strict"))
		if !meta.IsNoMatchError(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createNamespaces creates, for real, the namespaces the objects go to
// (a dry-run object in a missing namespace is refused).
func createNamespaces(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, u := range objs {
		ns := u.GetNamespace()
		if ns == "" {
			continue
		}
		err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}
