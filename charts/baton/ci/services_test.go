package ci

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// servicesOf splits the rendered Services into the traffic Service (ports
// http and https) and the metrics Service (port metrics); nil when absent.
func servicesOf(t *testing.T, m *manifest) (traffic, metrics *corev1.Service) {
	t.Helper()
	for _, s := range all[*corev1.Service](m) {
		names := map[string]bool{}
		for _, p := range s.Spec.Ports {
			names[p.Name] = true
		}
		switch {
		case names["http"] && names["https"] && traffic == nil:
			traffic = s
		case names["metrics"] && len(names) == 1 && metrics == nil:
			metrics = s
		default:
			t.Fatalf("unexpected Service %s with ports %v", s.Name, s.Spec.Ports)
		}
	}
	return traffic, metrics
}

func servicePort(s *corev1.Service, name string) corev1.ServicePort {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return p
		}
	}
	return corev1.ServicePort{}
}

// checkTrafficService: it reaches the pods on the ports they bind, and its
// address is what goes into Ingress status unless fixed addresses are set.
func checkTrafficService(t *testing.T, m *manifest, c controller) {
	svc, _ := servicesOf(t, m)
	_, hasAddresses := c.flags["publish-status-address"]
	publish, hasPublish := c.flags["publish-service"]
	if hasAddresses && hasPublish {
		t.Error("--publish-status-address and --publish-service are both passed")
	}
	if svc == nil {
		return
	}
	if !c.selects(t, svc.Spec.Selector) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, c.pod.Labels)
	}
	for name, flag := range map[string]string{"http": "http-bind-address", "https": "https-bind-address"} {
		target := servicePort(svc, name).TargetPort
		if got, want := target.IntValue(), int(c.port(t, flag)); got != want {
			t.Errorf("Service port %s targets %d, the pod binds %d", name, got, want)
		}
	}
	if want := svc.Namespace + "/" + svc.Name; !hasAddresses && publish != want {
		t.Errorf("--publish-service=%q, want this chart's Service %s", publish, want)
	}
}

// checkMetrics: annotations, metrics Service and ServiceMonitor all point
// at the port the controller serves /metrics on, and none exists when it
// serves none.
func checkMetrics(t *testing.T, m *manifest, c controller) {
	port := c.port(t, "metrics-bind-address")
	_, svc := servicesOf(t, m)
	monitors := genericOfKind(m, "ServiceMonitor")
	ann := c.pod.Annotations
	if port == 0 {
		if svc != nil || len(monitors) > 0 || ann["prometheus.io/scrape"] != "" {
			t.Error("metrics disabled, yet a metrics Service, ServiceMonitor or scrape annotation is rendered")
		}
		return
	}
	if ann["prometheus.io/scrape"] != "" && (ann["prometheus.io/port"] != fmt.Sprint(port) || ann["prometheus.io/path"] != "/metrics") {
		t.Errorf("scrape annotations %v, metrics on port %d", ann, port)
	}
	if svc == nil {
		if len(monitors) > 0 {
			t.Error("ServiceMonitor without the metrics Service it selects")
		}
		return
	}
	target := servicePort(svc, "metrics").TargetPort
	if !c.selects(t, svc.Spec.Selector) || target.IntValue() != int(port) {
		t.Errorf("metrics Service %v does not reach the pods' port %d", svc.Spec, port)
	}
	for _, sm := range monitors {
		checkServiceMonitor(t, sm, svc)
	}
}

func checkServiceMonitor(t *testing.T, sm map[string]any, svc *corev1.Service) {
	spec, _ := sm["spec"].(map[string]any)
	sel, _ := dig(spec, "selector", "matchLabels").(map[string]any)
	set := labels.Set{}
	for k, v := range sel {
		set[k] = fmt.Sprint(v)
	}
	if len(set) == 0 || !labels.SelectorFromSet(set).Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the metrics Service labels %v", sel, svc.Labels)
	}
	names, _ := dig(spec, "namespaceSelector", "matchNames").([]any)
	if len(names) != 1 || names[0] != svc.Namespace {
		t.Errorf("ServiceMonitor namespaces %v, the metrics Service is in %s", names, svc.Namespace)
	}
	endpoints, _ := spec["endpoints"].([]any)
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v", endpoints)
	}
	ep, _ := endpoints[0].(map[string]any)
	if ep["port"] != "metrics" || ep["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %v, want port metrics, path /metrics", ep)
	}
}

// dig follows map keys; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func checkIngressClass(t *testing.T, m *manifest, c controller) {
	for _, ic := range all[*networkingv1.IngressClass](m) {
		if ic.Name != c.flags["ingress-class"] || ic.Spec.Controller != c.flags["controller-name"] {
			t.Errorf("IngressClass %s (controller %s), the controller serves --ingress-class=%s --controller-name=%s",
				ic.Name, ic.Spec.Controller, c.flags["ingress-class"], c.flags["controller-name"])
		}
	}
}

func checkPodDisruptionBudget(t *testing.T, m *manifest, c controller) {
	for _, pdb := range all[*policyv1.PodDisruptionBudget](m) {
		if pdb.Spec.Selector == nil || !c.selects(t, pdb.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget selector %v does not select the pods", pdb.Spec.Selector)
		}
		if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
			t.Error("PodDisruptionBudget needs exactly one of minAvailable and maxUnavailable")
		}
	}
}
