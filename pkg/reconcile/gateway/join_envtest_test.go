//go:build envtest

package gateway_test

import (
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// TestIngressChangeWithGatewaysSaysWhatChanged: with a Gateway of ours
// present, an Ingress change reaches the data plane with Changes listing
// its host (issue 10): the Ingress translation's Changes name the version
// the joined snapshot was applied under, so the join keeps them.
func TestIngressChangeWithGatewaysSaysWhatChanged(t *testing.T) {
	e := newGWEnv(t)
	e.webService()
	e.create(e.gateway("gw"))
	e.create(e.route("r", "web"))
	e.create(&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: e.class},
		Spec: networkingv1.IngressClassSpec{Controller: "baton.dev/ingress-controller"}})
	t.Cleanup(func() {
		_ = e.client.Delete(e.ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: e.class}})
	})
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "ing"}, Spec: networkingv1.IngressSpec{
		IngressClassName: &e.class, Rules: []networkingv1.IngressRule{{Host: "ing.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	e.create(ing)
	shows := func(s *snapshot.Snapshot, path string) bool {
		if s == nil || len(s.Gateways) == 0 {
			return false
		}
		h, ok, _ := s.FindHost("ing.example.com")
		return ok && len(h.Routes) == 1 && h.Routes[0].Path == path
	}
	hasPath := func(path string) (bool, string) { return shows(e.sink.snapshot(), path), "not yet" }
	e.eventually("the Ingress beside the Gateway", func() (bool, string) { return hasPath("/") })
	for i, path := range []string{"/v1", "/v2", "/v3"} {
		if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: "ing"}, ing); err != nil {
			t.Fatal(err)
		}
		ing.Spec.Rules[0].HTTP.Paths[0].Path = path
		before := e.sink.count()
		if err := e.client.Update(e.ctx, ing); err != nil {
			t.Fatal(err)
		}
		e.eventually("path "+path, func() (bool, string) { return hasPath(path) })
		// The snapshot that brought the path: later ones (after Baton's
		// own status writes, say) rightly list nothing.
		s := e.sink.firstSince(before, func(s *snapshot.Snapshot) bool { return shows(s, path) })
		if i > 0 && (s.Changes == nil || s.Changes.Base == 0 || !slices.Contains(s.Changes.Hosts, "ing.example.com")) {
			t.Errorf("path %s: the snapshot's Changes are %+v, want the host listed", path, s.Changes)
		}
	}
}
