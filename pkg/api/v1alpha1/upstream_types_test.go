package v1alpha1_test

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// A manifest as a user writes it decodes through the scheme into the types
// translate reads, durations included.
func TestDecodeManifest(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	manifest := []byte(`{
	  "apiVersion": "baton.dev/v1alpha1", "kind": "Upstream",
	  "metadata": {"name": "api", "namespace": "shop"},
	  "spec": {
	    "serviceRef": {"name": "api", "port": {"name": "http"}},
	    "loadBalancing": {"policy": "LeastRequest"},
	    "protocol": "H2C",
	    "timeouts": {"connect": "1s", "response": "1m30s"},
	    "healthCheck": {"active": {"path": "/healthz", "interval": "5s"}}
	  }
	}`)
	obj, gvk, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(manifest, nil, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	u, ok := obj.(*v1alpha1.Upstream)
	if !ok || gvk.Kind != v1alpha1.UpstreamKind || gvk.Group != v1alpha1.GroupName {
		t.Fatalf("decoded %T as %v", obj, gvk)
	}
	s := u.Spec
	if s.ServiceRef.Port.Name != "http" || s.LoadBalancing.Policy != v1alpha1.PolicyLeastRequest ||
		s.Protocol != v1alpha1.ProtocolH2C || s.Timeouts.Response.Duration != 90*time.Second ||
		s.HealthCheck.Active.Interval.Duration != 5*time.Second {
		t.Errorf("decoded spec %+v", s)
	}
	cp := u.DeepCopy()
	cp.Spec.Timeouts.Connect.Duration = time.Hour
	if u.Spec.Timeouts.Connect.Duration != time.Second {
		t.Error("DeepCopy shares the timeouts with the original")
	}
}
