//go:build envtest

package reconcile_test

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
)

var publishAddresses = []string{"203.0.113.10", "lb.example.com"}

var wantLB = []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.10"}, {Hostname: "lb.example.com"}}

// TestSnapshotAndStatus drives the whole path once: Service, slices, a TLS
// Secret, Upstreams and an Ingress become routes, endpoints and a
// certificate; statuses and metrics follow, and so do later changes.
func TestSnapshotAndStatus(t *testing.T) {
	e := newEnv(t, envOptions{opts: reconcile.Options{PublishStatusAddress: publishAddresses}})
	secret := e.tlsSecret("web-tls", "a.example.com")
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1", "10.244.0.2"}, "10.244.0.3")
	api := &v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: e.ns}, Spec: v1alpha1.UpstreamSpec{
		ServiceRef: &v1alpha1.ServiceRef{Name: "web", Port: v1alpha1.ServicePort{Name: "http"}}}}
	static := &v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Name: "static", Namespace: e.ns}, Spec: v1alpha1.UpstreamSpec{
		Endpoints: []v1alpha1.StaticEndpoint{{Address: "10.244.1.1", Port: 9000}}}}
	ing := e.ingress("web", e.class, "a.example.com", "/", "web", 80)
	paths := &ing.Spec.Rules[0].HTTP.Paths
	*paths = append(*paths, networkingv1.HTTPIngressPath{Path: "/api", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: upstreamBackend("api")})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}, SecretName: "web-tls"}}
	for _, obj := range []client.Object{e.service("web", 80, "http"), slice, secret, api, static, ing} {
		e.create(obj)
	}

	webUp, apiUp := "service/"+e.ns+"/web/80", "upstream/"+e.ns+"/api"
	snap, _ := e.sink.waitFor(t, "routing a.example.com / and /api", func(s *snapshot.Snapshot) bool {
		return findRoute(s, "a.example.com", "/") != nil && findRoute(s, "a.example.com", "/api") != nil && len(s.Certificates) == 1
	})
	checkRoutesAndCert(t, e, snap, secret.Data["tls.crt"])
	wantEPs := []string{"10.244.0.1:8080", "10.244.0.2:8080"}
	if got := endpointsOf(snap, webUp); !slices.Equal(got, wantEPs) {
		t.Errorf("endpoints of %s = %v, want the ready ones %v", webUp, got, wantEPs)
	}
	if got := endpointsOf(snap, apiUp); !slices.Equal(got, wantEPs) {
		t.Errorf("endpoints of %s = %v, want %v", apiUp, got, wantEPs)
	}

	e.waitUpstreamStatus("api", 1, metav1.ConditionTrue, v1alpha1.ReasonReady, 2, 3)
	e.waitUpstreamStatus("static", 1, metav1.ConditionTrue, v1alpha1.ReasonReady, 1, 1)
	e.waitIngressLB("web", wantLB)
	checkGauge(t, "baton_upstream_endpoints", map[string]string{"upstream": e.ns + "/api", "state": "ready"}, 2)
	checkGauge(t, "baton_upstream_endpoints", map[string]string{"upstream": e.ns + "/api", "state": "total"}, 3)

	// A spec change is observed: new generation in status and snapshot.
	update(e, api, func(u *v1alpha1.Upstream) { u.Spec.Retries = 2 })
	e.sink.waitFor(t, "with Upstream api retries 2", func(s *snapshot.Snapshot) bool {
		u := s.Upstream(apiUp)
		return u != nil && u.Retries == 2
	})
	e.waitUpstreamStatus("api", 2, metav1.ConditionTrue, v1alpha1.ReasonReady, 2, 3)

	// No ready endpoint left: the route stays (503 from the data plane),
	// the Upstream turns not Ready.
	update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, nil, "10.244.0.1", "10.244.0.2") })
	e.sink.waitFor(t, "with no endpoints for /api", func(s *snapshot.Snapshot) bool {
		return findRoute(s, "a.example.com", "/api") != nil && len(endpointsOf(s, apiUp)) == 0
	})
	e.waitUpstreamStatus("api", 2, metav1.ConditionFalse, v1alpha1.ReasonNoReadyEndpoints, 0, 2)
	snap, _ = e.sink.last()
	if v := gaugeValue(t, "baton_snapshot_version", nil); v != float64(snap.Version) {
		t.Errorf("baton_snapshot_version = %v, want the last applied %d", v, snap.Version)
	}
}

func checkRoutesAndCert(t *testing.T, e *env, snap *snapshot.Snapshot, certPEM []byte) {
	t.Helper()
	source := e.ns + "/web"
	root, api := findRoute(snap, "a.example.com", "/"), findRoute(snap, "a.example.com", "/api")
	if root.Upstream != "service/"+e.ns+"/web/80" || root.Source != source || root.PathType != snapshot.PathPrefix {
		t.Errorf("route / = %+v", root)
	}
	if api.Upstream != "upstream/"+e.ns+"/api" || api.Source != source {
		t.Errorf("route /api = %+v", api)
	}
	c := snap.Certificates[0]
	if c.Source != e.ns+"/web-tls" || !slices.Equal(c.Hosts, []string{"a.example.com"}) || !bytes.Equal(c.CertPEM, certPEM) {
		t.Errorf("certificate = source %q hosts %v, want %s/web-tls for a.example.com with the Secret's PEM", c.Source, c.Hosts, e.ns)
	}
}

// TestStatusWrittenOnlyWhenChanged rebuilds snapshots that leave the
// statuses as they are and checks that no status write happened.
func TestStatusWrittenOnlyWhenChanged(t *testing.T) {
	e := newEnv(t, envOptions{opts: reconcile.Options{PublishStatusAddress: publishAddresses}})
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1", "10.244.0.2"})
	e.create(e.service("web", 80, "http"))
	e.create(slice)
	e.create(&v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: e.ns}, Spec: v1alpha1.UpstreamSpec{
		ServiceRef: &v1alpha1.ServiceRef{Name: "web", Port: v1alpha1.ServicePort{Number: 80}}}})
	e.create(e.ingress("one", e.class, "one.example.com", "/", "web", 80))
	e.waitUpstreamStatus("api", 1, metav1.ConditionTrue, v1alpha1.ReasonReady, 2, 2)
	e.waitIngressLB("one", wantLB)
	upRV, ingRV := e.resourceVersion(&v1alpha1.Upstream{}, "api"), e.resourceVersion(&networkingv1.Ingress{}, "one")

	// Same counts, other addresses: a new snapshot, the same statuses.
	update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, []string{"10.244.0.8", "10.244.0.9"}) })
	e.sink.waitFor(t, "with the new endpoints", func(s *snapshot.Snapshot) bool {
		return slices.Equal(endpointsOf(s, "service/"+e.ns+"/web/80"), []string{"10.244.0.8:8080", "10.244.0.9:8080"})
	})
	// The writer handles Upstreams, then Ingresses of one build in one
	// pass; a new Ingress's status marks that the pass after the change ran.
	e.create(e.ingress("two", e.class, "two.example.com", "/", "web", 80))
	e.waitIngressLB("two", wantLB)

	if rv := e.resourceVersion(&v1alpha1.Upstream{}, "api"); rv != upRV {
		t.Errorf("Upstream status rewritten without a change: resourceVersion %s -> %s", upRV, rv)
	}
	if rv := e.resourceVersion(&networkingv1.Ingress{}, "one"); rv != ingRV {
		t.Errorf("Ingress status rewritten without a change: resourceVersion %s -> %s", ingRV, rv)
	}
}

// TestIgnoresOtherClassesAndNamespaces: only Ingresses of our class in the
// watched namespace are routed and get a status; one that leaves our class
// loses its routes and our address, and another controller's status is
// never touched.
func TestIgnoresOtherClassesAndNamespaces(t *testing.T) {
	e := newEnv(t, envOptions{opts: reconcile.Options{PublishStatusAddress: publishAddresses}})
	other := "other-" + e.ns
	e.create(&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: other},
		Spec: networkingv1.IngressClassSpec{Controller: "example.com/other"}})
	t.Cleanup(func() {
		_ = e.client.Delete(e.ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: other}})
	})
	outside := e.ns + "-outside"
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: outside}})

	e.create(e.service("web", 80, "http"))
	e.create(e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1"}))
	foreign := e.ingress("foreign", other, "other.example.com", "/", "web", 80)
	e.create(foreign)
	foreignLB := []networkingv1.IngressLoadBalancerIngress{{IP: "198.51.100.99"}}
	e.setIngressLB(foreign, foreignLB)
	classless := e.ingress("classless", "", "classless.example.com", "/", "web", 80)
	classless.Spec.IngressClassName = nil
	e.create(classless)
	elsewhere := e.ingress("elsewhere", e.class, "outside.example.com", "/", "web", 80)
	elsewhere.Namespace = outside
	e.create(elsewhere)
	e.create(e.ingress("mine", e.class, "mine.example.com", "/", "web", 80))

	snap, _ := e.sink.waitFor(t, "routing mine.example.com", func(s *snapshot.Snapshot) bool {
		return findHost(s, "mine.example.com") != nil
	})
	e.waitIngressLB("mine", wantLB)
	if snap.HostCount() != 1 {
		t.Errorf("hosts = %s, want mine.example.com only", describe(snap))
	}
	for _, key := range []types.NamespacedName{{Namespace: e.ns, Name: "classless"}, {Namespace: outside, Name: "elsewhere"}} {
		if lb := e.ingressLBOf(key); len(lb) != 0 {
			t.Errorf("Ingress %s is not ours but got status %+v", key, lb)
		}
	}

	// "mine" moves to the other class: no route, our address cleared.
	mine := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: e.ns}}
	update(e, mine, func(i *networkingv1.Ingress) { i.Spec.IngressClassName = ptr.To(other) })
	e.sink.waitFor(t, "without mine.example.com", func(s *snapshot.Snapshot) bool { return s.HostCount() == 0 })
	e.waitIngressLB("mine", nil)
	if lb := e.ingressLBOf(types.NamespacedName{Namespace: e.ns, Name: "foreign"}); !reflect.DeepEqual(lb, foreignLB) {
		t.Errorf("another controller's status changed to %+v", lb)
	}
}

// TestPublishServiceAddress follows the publish Service's load balancer,
// including a change of its status alone.
func TestPublishServiceAddress(t *testing.T) {
	e := newEnv(t, envOptions{publishService: "baton"})
	svc := e.service("baton", 80, "http")
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	e.create(svc)
	e.setServiceLB(svc, corev1.LoadBalancerIngress{IP: "198.51.100.7"})
	e.create(e.service("web", 80, "http"))
	e.create(e.ingress("web", e.class, "a.example.com", "/", "web", 80))
	e.waitIngressLB("web", []networkingv1.IngressLoadBalancerIngress{{IP: "198.51.100.7"}})

	e.setServiceLB(svc, corev1.LoadBalancerIngress{Hostname: "lb.example.net"}, corev1.LoadBalancerIngress{IP: "198.51.100.8"})
	e.waitIngressLB("web", []networkingv1.IngressLoadBalancerIngress{{IP: "198.51.100.8"}, {Hostname: "lb.example.net"}})
}

func (e *env) setServiceLB(svc *corev1.Service, lb ...corev1.LoadBalancerIngress) {
	e.t.Helper()
	if err := e.client.Get(e.ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		e.t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = lb
	if err := e.client.Status().Update(e.ctx, svc); err != nil {
		e.t.Fatalf("status of Service %s: %v", svc.Name, err)
	}
}

func (e *env) waitUpstreamStatus(name string, gen int64, ready metav1.ConditionStatus, reason string, readyN, total int32) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("Upstream %s status", name), func() (bool, string) {
		var u v1alpha1.Upstream
		if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: name}, &u); err != nil {
			return false, err.Error()
		}
		s := u.Status
		r := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionReady)
		rr := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionResolvedRefs)
		ok := s.ObservedGeneration == gen && u.Generation == gen &&
			r != nil && r.Status == ready && r.Reason == reason && r.ObservedGeneration == gen && !r.LastTransitionTime.IsZero() &&
			rr != nil && rr.Status == metav1.ConditionTrue && rr.ObservedGeneration == gen &&
			s.ReadyEndpoints == readyN && s.TotalEndpoints == total && s.Endpoints == fmt.Sprintf("%d/%d", readyN, total)
		return ok, fmt.Sprintf("generation %d status %+v", u.Generation, s)
	})
}

func (e *env) ingressLBOf(key types.NamespacedName) []networkingv1.IngressLoadBalancerIngress {
	e.t.Helper()
	var ing networkingv1.Ingress
	if err := e.client.Get(e.ctx, key, &ing); err != nil {
		e.t.Fatalf("get Ingress %s: %v", key, err)
	}
	return ing.Status.LoadBalancer.Ingress
}

func (e *env) waitIngressLB(name string, want []networkingv1.IngressLoadBalancerIngress) {
	e.t.Helper()
	key := types.NamespacedName{Namespace: e.ns, Name: name}
	e.eventually(fmt.Sprintf("Ingress %s status.loadBalancer = %+v", name, want), func() (bool, string) {
		got := e.ingressLBOf(key)
		return (len(got) == 0 && len(want) == 0) || reflect.DeepEqual(got, want), fmt.Sprintf("%+v", got)
	})
}

// setIngressLB plays another controller writing an Ingress status.
func (e *env) setIngressLB(ing *networkingv1.Ingress, lb []networkingv1.IngressLoadBalancerIngress) {
	e.t.Helper()
	ing.Status.LoadBalancer.Ingress = lb
	if err := e.client.Status().Update(e.ctx, ing); err != nil {
		e.t.Fatalf("status of %s: %v", ing.Name, err)
	}
}

func (e *env) resourceVersion(obj client.Object, name string) string {
	e.t.Helper()
	if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: name}, obj); err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	return obj.GetResourceVersion()
}

// gaugeValue reads a metric from controller-runtime's registry.
func gaugeValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not registered", name, labels)
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func checkGauge(t *testing.T, name string, labels map[string]string, want float64) {
	t.Helper()
	if got := gaugeValue(t, name, labels); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}
