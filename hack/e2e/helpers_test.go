package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

func bin(name string) string { return filepath.Join(root, "bin", name) }

// startPods starts one backend pod per index and removes them at cleanup.
func startPods(t *testing.T, indexes ...int) []*framework.Pod {
	t.Helper()
	var pods []*framework.Pod
	for _, i := range indexes {
		p, err := framework.StartPod(i, fmt.Sprintf("pod-%d", i), bin("baton-e2e-backend"), 8080)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Delete)
		pods = append(pods, p)
	}
	return pods
}

// startBaton runs Baton for one test; class is the IngressClass it serves.
func startBaton(t *testing.T, class string, extra ...string) *framework.Baton {
	t.Helper()
	return startBatonOn(t, cp, class, extra...)
}

// startBatonOn runs Baton against the control plane c.
func startBatonOn(t *testing.T, c *framework.ControlPlane, class string, extra ...string) *framework.Baton {
	t.Helper()
	return startBatonWith(t, c, framework.BatonOptions{}, class, extra...)
}

// startBatonWith is startBatonOn with o's addresses.
func startBatonWith(t *testing.T, c *framework.ControlPlane, o framework.BatonOptions, class string, extra ...string) *framework.Baton {
	t.Helper()
	o.Binary, o.Kubeconfig = bin("baton"), c.Kubeconfig
	o.Args = append([]string{"--ingress-class", class, "--controller-name", "baton.dev/" + class,
		"--publish-status-address", "192.0.2.10"}, extra...)
	b, err := framework.StartBaton(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() {
			t.Logf("--- baton log ---\n%s", tail(b.Logs(), 60))
		}
	})
	return b
}

// tookListeners tells whether a log shows the handoff of n listeners.
func tookListeners(log string, n int) bool {
	return regexp.MustCompile(`"msg":"handoff: took the listeners of the previous process".*"listeners":` + strconv.Itoa(n) + `\b`).MatchString(log)
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	createOn(t, cp, objs...)
}

func createOn(t *testing.T, c *framework.ControlPlane, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// ownControlPlane starts a control plane for one test, for a test that
// freezes or breaks it: the others share cp and must not notice.
func ownControlPlane(t *testing.T) *framework.ControlPlane {
	t.Helper()
	c, err := framework.StartControlPlane(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.ThawAPIServer() // a failed test may leave it frozen
		_ = c.Stop()
	})
	return c
}

// pacedLoad sends one request every 20ms on a fresh connection, never
// retried, until finished.
func pacedLoad(addr, host string) *framework.PacedLoad {
	return framework.StartPacedLoad(addr, host, 20*time.Millisecond, 10000)
}

// finishPaced stops l and fails the test unless every request succeeded.
func finishPaced(t *testing.T, l *framework.PacedLoad) map[string]int {
	t.Helper()
	sent, byPod, failures := l.Stop()
	t.Logf("paced load: sent %d, failed %d, by pod %v", sent, len(failures), byPod)
	if len(failures) != 0 {
		t.Errorf("%d of %d requests failed, first: %v", len(failures), sent, failures[:min(5, len(failures))])
	}
	if sent == 0 {
		t.Error("load sent no requests")
	}
	return byPod
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}

func ingressClass(name string) *networkingv1.IngressClass {
	return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressClassSpec{Controller: "baton.dev/" + name}}
}

func service(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
}

func endpointSlice(ns, svc string, pods ...*framework.Pod) *discoveryv1.EndpointSlice {
	ready := true
	port, name := int32(8080), "http"
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
	}
	for _, p := range pods {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.IP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return s
}

type rule struct{ host, path, service string }

func ingress(ns, name, class string, rules ...rule) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: &class}}
	for _, r := range rules {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: r.host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: r.path, PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: r.service, Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}}}})
	}
	return ing
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get sends one request through Baton and returns status, X-Pod and body.
func get(addr, host, path string) (int, string, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Pod"), string(body), err
}

// eventually retries check until it returns nil or the limit passes.
func eventually(t *testing.T, limit time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true within %v: %v", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load keeps workers sending requests until stopped, counting failures.
type load struct {
	sent, failed atomic.Int64
	byPod        sync.Map // pod name -> *atomic.Int64
	mu           sync.Mutex
	failures     []string
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startLoad(addr, host string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go l.worker(addr, host)
	}
	return l
}

// worker sends over a kept-alive connection that never retries a request
// (framework.KeepAliveClient), so every failure a client would see counts.
func (l *load) worker(addr, host string) {
	defer l.wg.Done()
	c := framework.NewKeepAliveClient(addr, 10*time.Second)
	defer c.Close()
	for n := 0; n < 100000; n++ { // bounded even if never stopped
		select {
		case <-l.stop:
			return
		default:
		}
		status, pod, err := c.Get(host, "/load")
		l.sent.Add(1)
		if err != nil || status != http.StatusOK {
			l.failed.Add(1)
			l.mu.Lock()
			l.failures = append(l.failures, fmt.Sprintf("status %d err %v", status, err))
			l.mu.Unlock()
			continue
		}
		c, _ := l.byPod.LoadOrStore(pod, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: sent %d, failed %d", l.sent.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d requests failed, first: %v", l.failed.Load(), l.sent.Load(), l.failures[:min(5, len(l.failures))])
	}
	if l.sent.Load() == 0 {
		t.Error("load sent no requests")
	}
}

func (l *load) served(pod string) int64 {
	c, ok := l.byPod.Load(pod)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}
