//go:build envtest

package reconcile_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/envtesting"
	"github.com/baton-dev/baton/pkg/reconcile"
)

const controllerName = "baton.dev/ingress-controller"

// waitLimit is a safety limit for conditions that normally hold within
// milliseconds; it only decides when a broken test gives up.
const waitLimit = 30 * time.Second

var (
	restConfig *rest.Config
	scheme     = runtime.NewScheme()
)

// TestMain starts one kube-apiserver and etcd (bin/, or KUBEBUILDER_ASSETS)
// with the CRDs of config/crd for every test; tests isolate themselves by
// namespace and IngressClass.
func TestMain(m *testing.M) {
	if err := reconcile.AddToScheme(scheme); err != nil {
		panic(err)
	}
	// BATON_TEST_LOG=1 shows the controller's logs.
	log := logr.Discard()
	if os.Getenv("BATON_TEST_LOG") != "" {
		log = funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{Verbosity: 1})
	}
	ctrl.SetLogger(log)
	envtesting.Main(m, scheme, &restConfig)
}

// recordingSink keeps every snapshot it is given.
type recordingSink struct {
	mu      sync.Mutex
	applied []*snapshot.Snapshot
	at      []time.Time
	// failNext makes that many Apply calls fail.
	failNext atomic.Int32
	calls    atomic.Int32
	notify   chan struct{}
	// entered, when set, hears of every call; hold, when set, delays every
	// call that does not fail until it is closed.
	entered chan struct{}
	hold    chan struct{}
}

func newRecordingSink() *recordingSink { return &recordingSink{notify: make(chan struct{}, 1)} }

func (s *recordingSink) Apply(snap *snapshot.Snapshot) error {
	now := time.Now()
	s.calls.Add(1)
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.failNext.Load() > 0 {
		s.failNext.Add(-1)
		return fmt.Errorf("injected failure of snapshot %d", snap.Version)
	}
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	s.applied = append(s.applied, snap)
	s.at = append(s.at, now)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *recordingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied)
}

func (s *recordingSink) last() (*snapshot.Snapshot, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.applied) == 0 {
		return nil, time.Time{}
	}
	return s.applied[len(s.applied)-1], s.at[len(s.at)-1]
}

// waitFor returns the first applied snapshot, from now on, that satisfies
// ok, and when it was applied.
func (s *recordingSink) waitFor(t *testing.T, what string, ok func(*snapshot.Snapshot) bool) (*snapshot.Snapshot, time.Time) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		if snap, at := s.last(); snap != nil && ok(snap) {
			return snap, at
		}
		select {
		case <-s.notify:
		case <-deadline:
			snap, _ := s.last()
			t.Fatalf("no applied snapshot %s within %v; last: %s", what, waitLimit, describe(snap))
		}
	}
}

// env is one test's namespace, IngressClass and running controller.
type env struct {
	t          *testing.T
	ctx        context.Context
	client     client.Client
	ns         string
	class      string
	mgr        ctrl.Manager
	controller *reconcile.Controller
	sink       *recordingSink
	// managerDone is closed when the manager has stopped.
	managerDone chan struct{}
}

type envOptions struct {
	opts     reconcile.Options
	leaderNS bool // elect a leader through a Lease in the test namespace
	// partition, when set, can cut the manager off from the Lease API.
	partition *leasePartition
	// publishService names a Service in the test namespace.
	publishService string
	// defaultTLS names the default certificate's Secret, in the namespace
	// "<test namespace>-ctl" (created, and outside WatchNamespace).
	defaultTLS string
	beforeRun  func(e *env)
	customSink *recordingSink
}

// newEnv creates a namespace and our IngressClass, then starts a manager
// with the controller limited to that namespace and class.
func newEnv(t *testing.T, eo envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	e := &env{t: t, ctx: ctx, client: c, ns: trim63("t-" + name), class: trim63("c-" + name), sink: eo.customSink}
	if e.sink == nil {
		e.sink = newRecordingSink()
	}
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}})
	e.create(&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: e.class},
		Spec: networkingv1.IngressClassSpec{Controller: controllerName}})
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: e.class}})
	})

	opts := eo.opts
	opts.ControllerName, opts.ClassName, opts.WatchNamespace = controllerName, e.class, e.ns
	if eo.defaultTLS != "" {
		e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns + "-ctl"}})
		opts.DefaultTLSSecret = &types.NamespacedName{Namespace: e.ns + "-ctl", Name: eo.defaultTLS}
	}
	if eo.publishService != "" {
		opts.PublishService = &types.NamespacedName{Namespace: e.ns, Name: eo.publishService}
	}
	if eo.leaderNS {
		opts.LeaderElection = &reconcile.LeaderElection{Namespace: e.ns, Name: "baton-leader",
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}
	}
	e.mgr = e.newManager(eo.partition)
	if e.controller, err = reconcile.Setup(e.mgr, e.sink, opts); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if eo.beforeRun != nil {
		eo.beforeRun(e)
	}
	done := make(chan error, 1)
	e.managerDone = make(chan struct{})
	go func() { done <- e.mgr.Start(ctx); close(e.managerDone) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return e
}

// newManager runs without controller-runtime's leader election, as Baton
// does: its own is configured in reconcile.Options.
func (e *env) newManager(partition *leasePartition) ctrl.Manager {
	mo := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}
	cfg := restConfig
	if partition != nil {
		cfg = partition.wrap(restConfig)
	}
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		e.t.Fatalf("NewManager: %v", err)
	}
	return mgr
}

func trim63(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRight(s, "-")
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if err := e.client.Create(e.ctx, obj); err != nil {
		e.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// update re-reads obj, applies change and writes it, retrying conflicts.
func update[T client.Object](e *env, obj T, change func(T)) {
	e.t.Helper()
	for range 10 {
		if err := e.client.Get(e.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			e.t.Fatalf("get %s: %v", obj.GetName(), err)
		}
		change(obj)
		err := e.client.Update(e.ctx, obj)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "modified") {
			e.t.Fatalf("update %s: %v", obj.GetName(), err)
		}
	}
	e.t.Fatalf("update %s: conflicts did not stop", obj.GetName())
}

// eventually polls ok until it holds or the safety limit passes.
func (e *env) eventually(what string, ok func() (bool, string)) {
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

// Object builders.

func (e *env) service(name string, port int32, portName string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: port, Protocol: corev1.ProtocolTCP}}}}
}

// endpointSlice lists addrs on targetPort; the addresses in notReady are
// listed as not ready.
func (e *env) endpointSlice(name, service, portName string, targetPort int32, addrs []string, notReady ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(targetPort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	setEndpoints(s, addrs, notReady...)
	return s
}

func setEndpoints(s *discoveryv1.EndpointSlice, addrs []string, notReady ...string) {
	s.Endpoints = nil
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	for _, a := range notReady {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}})
	}
}

// ingress routes host/path (Prefix) to a Service port by number.
func (e *env) ingress(name, class, host, path, service string, port int32) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To(class),
			Rules:            []networkingv1.IngressRule{rule(host, path, serviceBackend(service, port))},
		},
	}
}

func rule(host, path string, backend networkingv1.IngressBackend) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
			{Path: path, PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend},
		}},
	}}
}

func serviceBackend(name string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: name, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

func upstreamBackend(name string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
		APIGroup: ptr.To(v1alpha1.GroupName), Kind: v1alpha1.UpstreamKind, Name: name}}
}

// tlsSecret is a kubernetes.io/tls Secret with a fresh self-signed
// certificate for hosts.
func (e *env) tlsSecret(name string, hosts ...string) *corev1.Secret {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		e.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		e.t.Fatal(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		}}
}

// Snapshot queries.

func findHost(s *snapshot.Snapshot, name string) *snapshot.VirtualHost {
	h, _, _ := s.FindHost(name)
	return h
}

func findRoute(s *snapshot.Snapshot, host, path string) *snapshot.Route {
	h := findHost(s, host)
	if h == nil {
		return nil
	}
	for i := range h.Routes {
		if h.Routes[i].Path == path {
			return &h.Routes[i]
		}
	}
	return nil
}

func endpointsOf(s *snapshot.Snapshot, upstream string) []string {
	u := s.Upstream(upstream)
	if u == nil {
		return nil
	}
	var out []string
	for _, ep := range u.Endpoints {
		out = append(out, ep.Address)
	}
	return out
}

func describe(s *snapshot.Snapshot) string {
	if s == nil {
		return "none"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version %d;", s.Version)
	for _, h := range s.AllHosts() {
		for _, r := range h.Routes {
			fmt.Fprintf(&b, " %s%s->%s", h.Name, r.Path, r.Upstream)
		}
	}
	for _, u := range s.AllUpstreams() {
		fmt.Fprintf(&b, " [%s %v]", u.Name, u.Endpoints)
	}
	return b.String()
}
