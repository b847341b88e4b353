//go:build envtest

package reconcile_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/reconcile"
)

// TestCacheKeepsNoManagedFieldsAndStatusWritesKeepThem: the informer cache
// holds no managedFields and no kubectl last-applied copy of what it
// watches (at 10k Ingresses they would be a large part of the heap), and
// the status Baton writes from such a stripped object leaves both intact
// on the server: the write is a merge patch of status alone, and the API
// server keeps the managedFields of a write that sends none.
func TestCacheKeepsNoManagedFieldsAndStatusWritesKeepThem(t *testing.T) {
	e := newEnv(t, envOptions{opts: reconcile.Options{PublishStatusAddress: publishAddresses}})
	applied := map[string]string{corev1.LastAppliedConfigAnnotation: `{"kind":"whole object"}`, "keep": "me"}
	e.create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: e.ns, Annotations: applied},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.1.1"})
	slice.Annotations = applied
	e.create(slice)
	ing := e.ingress("web", e.class, "web.example.com", "/", "web", 80)
	ing.Annotations = applied
	e.create(ing)
	e.waitIngressLB("web", wantLB)

	for _, c := range []struct {
		obj  client.Object
		name string
	}{{&networkingv1.Ingress{}, "web"}, {&corev1.Service{}, "web"}, {&discoveryv1.EndpointSlice{}, "web-1"}} {
		obj, key := c.obj, client.ObjectKey{Namespace: e.ns, Name: c.name}
		if err := e.controller.CachedObjects().Get(e.ctx, key, obj); err != nil {
			t.Fatalf("cache: %T %s: %v", obj, key, err)
		}
		if len(obj.GetManagedFields()) > 0 || obj.GetAnnotations()[corev1.LastAppliedConfigAnnotation] != "" || obj.GetAnnotations()["keep"] != "me" {
			t.Errorf("cached %T %s: managedFields %d entries, annotations %v; want none, and only the last-applied copy dropped",
				obj, key, len(obj.GetManagedFields()), obj.GetAnnotations())
		}
	}
	var server networkingv1.Ingress
	if err := e.client.Get(e.ctx, client.ObjectKeyFromObject(ing), &server); err != nil {
		t.Fatal(err)
	}
	managers := map[string]bool{}
	for _, m := range server.ManagedFields {
		managers[m.Manager+"/"+m.Subresource] = true
	}
	if !managers["baton/status"] || len(managers) < 2 || server.Annotations[corev1.LastAppliedConfigAnnotation] == "" {
		t.Errorf("after Baton's status write the server's Ingress has managers %v and annotations %v; want the creator's entry, baton's status entry and the last-applied copy",
			managers, server.Annotations)
	}
}
