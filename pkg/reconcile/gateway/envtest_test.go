//go:build envtest

package gateway_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
	"github.com/baton-dev/baton/pkg/internal/envtesting"
	"github.com/baton-dev/baton/pkg/reconcile"
	"github.com/baton-dev/baton/pkg/reconcile/gateway"
)

// waitLimit only decides when a broken test gives up.
const waitLimit = 30 * time.Second

var (
	restConfig *rest.Config
	scheme     = runtime.NewScheme()
)

// TestMain starts a kube-apiserver with Baton's CRDs and the
// standard-channel Gateway API CRDs of the module version in go.mod.
func TestMain(m *testing.M) {
	if err := reconcile.AddToScheme(scheme); err != nil {
		panic(err)
	}
	crds, err := envtesting.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	envtesting.Main(m, scheme, &restConfig, crds...)
}

// lastSink keeps the snapshots applied, the last one first of all.
type lastSink struct {
	mu      sync.Mutex
	last    *snapshot.Snapshot
	applied []*snapshot.Snapshot
}

func (s *lastSink) Apply(snap *snapshot.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = snap
	s.applied = append(s.applied, snap)
	return nil
}

// count is how many snapshots were applied so far.
func (s *lastSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied)
}

// firstSince is the first snapshot applied after the first n for which
// ok holds, or nil.
func (s *lastSink) firstSince(n int, ok func(*snapshot.Snapshot) bool) *snapshot.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, snap := range s.applied[n:] {
		if ok(snap) {
			return snap
		}
	}
	return nil
}

func (s *lastSink) snapshot() *snapshot.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// gwEnv is one test's namespace, GatewayClass and controller.
type gwEnv struct {
	t      *testing.T
	ctx    context.Context
	client client.Client
	ns     string
	class  string
	ctrl   gatewayv1.GatewayController
	sink   *lastSink
	stop   func()
}

func newGWEnv(t *testing.T) *gwEnv {
	t.Helper()
	c, err := client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	e := &gwEnv{t: t, ctx: context.Background(), client: c, ns: "t-" + name, class: "c-" + name,
		ctrl: gatewayv1.GatewayController("baton.dev/" + name)}
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}})
	e.create(&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: e.class}, Spec: gatewayv1.GatewayClassSpec{ControllerName: e.ctrl}})
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start runs a controller (as a restart would: a new manager and cache).
func (e *gwEnv) start() {
	e.t.Helper()
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{Scheme: scheme,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.sink = &lastSink{}
	_, err = reconcile.Setup(mgr, e.sink, reconcile.Options{ControllerName: "baton.dev/ingress-controller", WatchNamespace: e.ns,
		GatewayControllerName: string(e.ctrl), GatewayAddressPool: netip.MustParsePrefix("10.9.0.0/24"),
		GatewayHTTPPorts: []int{8080}, GatewayHTTPSPorts: []int{8443}})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("manager: %v", err)
		}
	}
}

func (e *gwEnv) create(obj client.Object) {
	e.t.Helper()
	if err := e.client.Create(e.ctx, obj); err != nil {
		e.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually polls ok until it holds or the safety limit passes.
func (e *gwEnv) eventually(what string, ok func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(waitLimit)
	last := ""
	for time.Now().Before(deadline) {
		var done bool
		if done, last = ok(); done {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s: not within %v; last seen: %s", what, waitLimit, last)
}

func (e *gwEnv) gateway(name string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}, Spec: gatewayv1.GatewaySpec{
		GatewayClassName: gatewayv1.ObjectName(e.class),
		Listeners:        []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: 8080}}}}
}

// webService is a Service with one ready endpoint.
func (e *gwEnv) webService() {
	e.create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
	e.create(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "web-1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "web"}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080)), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}})
}

func (e *gwEnv) route(name, backend string) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}, Spec: gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
		Hostnames:       []gatewayv1.Hostname{"app.example.com"},
		Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backend), Port: ptr.To(int32(80))}}}}}},
	}}
}

// conditionIs reports "Status/Reason@observedGeneration" of typ.
func conditionIs(cs []metav1.Condition, typ string) string {
	c := meta.FindStatusCondition(cs, typ)
	if c == nil {
		return "absent"
	}
	return fmt.Sprintf("%s/%s@%d", c.Status, c.Reason, c.ObservedGeneration)
}

// TestStatusesInTheAPIServer: the class is Accepted with its features,
// the Gateway Programmed with an address of the pool, its listener counts
// the route, and the route is Accepted with its references resolved, all
// with observedGeneration; the snapshot routes the Gateway's address.
func TestStatusesInTheAPIServer(t *testing.T) {
	e := newGWEnv(t)
	e.webService()
	e.create(e.gateway("gw"))
	e.create(e.route("r", "web"))
	e.eventually("GatewayClass Accepted", func() (bool, string) {
		var gc gatewayv1.GatewayClass
		_ = e.client.Get(e.ctx, client.ObjectKey{Name: e.class}, &gc)
		got := conditionIs(gc.Status.Conditions, "Accepted")
		return got == "True/Accepted@1" && len(gc.Status.SupportedFeatures) == len(gateway.SupportedFeatures), got
	})
	e.eventually("Gateway Programmed with an address", func() (bool, string) {
		var g gatewayv1.Gateway
		_ = e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "gw"}, &g)
		got := conditionIs(g.Status.Conditions, "Accepted") + " " + conditionIs(g.Status.Conditions, "Programmed")
		for _, a := range g.Status.Addresses {
			got += " " + string(*a.Type) + ":" + a.Value
		}
		for _, l := range g.Status.Listeners {
			got += fmt.Sprintf(" attached=%d %s", l.AttachedRoutes, conditionIs(l.Conditions, "Programmed"))
		}
		return got == "True/Accepted@1 True/Programmed@1 IPAddress:10.9.0.1 attached=1 True/Programmed@1", got
	})
	e.eventually("HTTPRoute Accepted and resolved", func() (bool, string) {
		var r gatewayv1.HTTPRoute
		_ = e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "r"}, &r)
		if len(r.Status.Parents) != 1 {
			return false, fmt.Sprintf("parents %+v", r.Status.Parents)
		}
		p := r.Status.Parents[0]
		got := conditionIs(p.Conditions, "Accepted") + " " + conditionIs(p.Conditions, "ResolvedRefs")
		return got == "True/Accepted@1 True/ResolvedRefs@1" && p.ControllerName == e.ctrl, got
	})
	e.eventually("the snapshot routes the Gateway's address", func() (bool, string) {
		s := e.sink.snapshot()
		if s == nil || len(s.Gateways) != 1 {
			return false, "no gateway"
		}
		g := s.Gateways[0]
		got := fmt.Sprintf("%s %v %d", g.Name, g.Addresses, len(g.Ports))
		return got == e.ns+"/gw [10.9.0.1] 1", got
	})
}

// TestRouteStatusFollowsItsBackend: BackendNotFound until the Service
// exists, then ResolvedRefs True, with the new observedGeneration after an
// edit.
func TestRouteStatusFollowsItsBackend(t *testing.T) {
	e := newGWEnv(t)
	e.create(e.gateway("gw"))
	e.create(e.route("r", "web"))
	resolved := func(want string) {
		e.t.Helper()
		e.eventually("ResolvedRefs "+want, func() (bool, string) {
			var r gatewayv1.HTTPRoute
			_ = e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "r"}, &r)
			if len(r.Status.Parents) != 1 {
				return false, "no parent status"
			}
			got := conditionIs(r.Status.Parents[0].Conditions, "ResolvedRefs")
			return got == want, got
		})
	}
	resolved("False/BackendNotFound@1")
	e.webService()
	resolved("True/ResolvedRefs@1")
	var r gatewayv1.HTTPRoute
	_ = e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "r"}, &r)
	r.Spec.Hostnames = append(r.Spec.Hostnames, "other.example.com")
	if err := e.client.Update(e.ctx, &r); err != nil {
		t.Fatal(err)
	}
	resolved("True/ResolvedRefs@2")
}

// TestBackendTLSPolicyStatus: the policy of a backend gets an ancestor
// entry for the Gateway, Accepted with its CA resolved, which the CRD
// takes as written.
func TestBackendTLSPolicyStatus(t *testing.T) {
	e := newGWEnv(t)
	e.webService()
	cert, err := snapshottest.SelfSigned("ca", "web.example.com")
	if err != nil {
		t.Fatal(err)
	}
	e.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "ca"}, Data: map[string]string{"ca.crt": string(cert.CertPEM)}})
	e.create(&gatewayv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "tls"}, Spec: gatewayv1.BackendTLSPolicySpec{
		TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
			Group: "", Kind: "Service", Name: "web"}}},
		Validation: gatewayv1.BackendTLSPolicyValidation{Hostname: "web.example.com",
			CACertificateRefs: []gatewayv1.LocalObjectReference{{Group: "", Kind: "ConfigMap", Name: "ca"}}}}})
	e.create(e.gateway("gw"))
	e.create(e.route("r", "web"))
	e.eventually("policy ancestor status", func() (bool, string) {
		var p gatewayv1.BackendTLSPolicy
		_ = e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "tls"}, &p)
		if len(p.Status.Ancestors) != 1 {
			return false, fmt.Sprintf("ancestors %+v", p.Status.Ancestors)
		}
		a := p.Status.Ancestors[0]
		got := string(a.AncestorRef.Name) + " " + conditionIs(a.Conditions, "Accepted") + " " + conditionIs(a.Conditions, "ResolvedRefs")
		return got == "gw True/Accepted@1 True/ResolvedRefs@1", got
	})
	e.eventually("the backend speaks HTTPS", func() (bool, string) {
		s := e.sink.snapshot()
		if s == nil {
			return false, "no snapshot"
		}
		u := s.Upstream("service/" + e.ns + "/web/80/tls/" + e.ns + "/tls")
		if u == nil {
			return false, "no upstream"
		}
		return u.Protocol == snapshot.ProtocolHTTPS && len(u.TLS.CAPEM) > 0, string(u.Protocol)
	})
}

// TestAddressesSurviveARestart: a Gateway keeps the address its status
// shows when the controller restarts, even when an older Gateway that
// held a lower address is gone (a fresh assignment would move it).
func TestAddressesSurviveARestart(t *testing.T) {
	e := newGWEnv(t)
	e.create(e.gateway("first"))
	e.create(e.gateway("second"))
	addressOf := func(name string) string {
		var g gatewayv1.Gateway
		_ = e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &g)
		if len(g.Status.Addresses) != 1 {
			return ""
		}
		return g.Status.Addresses[0].Value
	}
	e.eventually("two addresses", func() (bool, string) {
		got := addressOf("first") + " " + addressOf("second")
		return got == "10.9.0.1 10.9.0.2", got
	})
	e.stop()
	if err := e.client.Delete(e.ctx, e.gateway("first")); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.create(e.gateway("third"))
	e.eventually("second keeps its address; third takes the free one", func() (bool, string) {
		got := addressOf("second") + " " + addressOf("third")
		return got == "10.9.0.2 10.9.0.1", got
	})
}
