package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/hack/e2e/framework"
	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// TestRouting drives host and path rules, the Service and Upstream
// backends, IngressClass filtering and the status Baton writes, all through
// the real binary against real backend processes.
func TestRouting(t *testing.T) {
	ns := namespace(t, "routing")
	pods := startPods(t, 1, 2)
	create(t, ingressClass("routing"), ingressClass("someone-else"),
		service(ns, "web"), endpointSlice(ns, "web", pods...),
		service(ns, "only-a"), endpointSlice(ns, "only-a", pods[0]),
		ingress(ns, "web", "routing", rule{"web.test", "/", "web"}, rule{"web.test", "/a", "only-a"}),
		ingress(ns, "foreign", "someone-else", rule{"foreign.test", "/", "web"}),
		upstreamStatic(ns, "static", pods[1].IP),
		ingressToUpstream(ns, "api", "routing", "api.test", "static"))
	b := startBaton(t, "routing")

	seen := map[string]int{}
	for range 20 {
		status, pod, _, err := get(b.HTTPAddr, "web.test", "/x")
		if err != nil || status != http.StatusOK {
			t.Fatalf("web.test/x: status %d, %v", status, err)
		}
		seen[pod]++
	}
	if seen["pod-1"] != 10 || seen["pod-2"] != 10 {
		t.Errorf("round robin over two pods: got %v, want 10 each", seen)
	}
	expectPod(t, b.HTTPAddr, "WEB.test:80", "/a/b", "pod-1")   // longest prefix, host case and port ignored
	expectPod(t, b.HTTPAddr, "api.test", "/anything", "pod-2") // Upstream with a static endpoint
	// Its line in the access log (stdout, JSON):
	eventually(t, 10*time.Second, func() error {
		return accessLogged(b, "api.test", "/anything", map[string]any{"source": ns + "/api", "status": 200.0, "attempts": 1.0})
	})
	expectStatus(t, b.HTTPAddr, "web.test", "/ab", http.StatusOK)
	expectStatus(t, b.HTTPAddr, "unknown.test", "/", http.StatusNotFound)
	expectStatus(t, b.HTTPAddr, "foreign.test", "/", http.StatusNotFound) // another class: ignored
	eventually(t, 10*time.Second, func() error { return loadBalancerIP(ns, "web", "192.0.2.10") })
	if err := loadBalancerIP(ns, "foreign", ""); err != nil {
		t.Error(err)
	}
}

func expectPod(t *testing.T, addr, host, path, want string) {
	t.Helper()
	status, pod, body, err := get(addr, host, path)
	if err != nil || status != http.StatusOK || pod != want {
		t.Errorf("%s%s: status %d pod %q (want %q) err %v body %s", host, path, status, pod, want, err, body)
	}
}

// accessLogged finds the access log line of host and path in b's output
// and checks the fields in want.
func accessLogged(b *framework.Baton, host, path string, want map[string]any) error {
	for _, line := range strings.Split(b.Logs(), "\n") {
		var got map[string]any
		if json.Unmarshal([]byte(line), &got) != nil || got["host"] != host || got["path"] != path {
			continue
		}
		for k, v := range want {
			if got[k] != v {
				return fmt.Errorf("access log %s = %#v, want %#v in %s", k, got[k], v, line)
			}
		}
		return nil
	}
	return fmt.Errorf("no access log line for %s%s", host, path)
}

func expectStatus(t *testing.T, addr, host, path string, want int) {
	t.Helper()
	status, _, body, err := get(addr, host, path)
	if err != nil || status != want {
		t.Errorf("%s%s: status %d, want %d (err %v, body %q)", host, path, status, want, err, body)
	}
}

func loadBalancerIP(ns, name, want string) error { return loadBalancerIPOn(cp, ns, name, want) }

func loadBalancerIPOn(c *framework.ControlPlane, ns, name, want string) error {
	var ing networkingv1.Ingress
	if err := c.Client.Get(context.Background(), keyOf(ns, name), &ing); err != nil {
		return err
	}
	var got []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		got = append(got, lb.IP)
	}
	if strings.Join(got, ",") != want {
		return fmt.Errorf("ingress %s/%s status.loadBalancer %v, want %q", ns, name, got, want)
	}
	return nil
}

func upstreamStatic(ns, name string, ips ...string) *v1alpha1.Upstream {
	u := &v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, ip := range ips {
		u.Spec.Endpoints = append(u.Spec.Endpoints, v1alpha1.StaticEndpoint{Address: ip, Port: 8080})
	}
	return u
}

func ingressToUpstream(ns, name, class, host, upstream string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	group := v1alpha1.GroupName
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: &group,
						Kind: v1alpha1.UpstreamKind, Name: upstream}}}}}}}}}}
}

func keyOf(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
