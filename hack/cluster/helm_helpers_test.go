//go:build cluster

package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// appManifests are the echo backends (3 pods that report their pod name
// in X-Pod) and an Ingress of class baton to their Service.
const appManifests = `
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: app}
spec:
  replicas: 3
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: echo
          image: baton.local/echo:1
          imagePullPolicy: Never
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: app}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo, namespace: app}
spec:
  ingressClassName: baton
  rules:
    - host: echo.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: echo, port: {number: 80}}}
`

// upstreamManifests route upstream.test through an Upstream whose
// serviceRef is the echo Service.
const upstreamManifests = `
apiVersion: baton.dev/v1alpha1
kind: Upstream
metadata: {name: echo, namespace: app}
spec:
  serviceRef: {name: echo, port: {name: http}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: upstream, namespace: app}
spec:
  ingressClassName: baton
  rules:
    - host: upstream.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {resource: {apiGroup: baton.dev, kind: Upstream, name: echo}}
`

func (h *helmEnv) batonPods() []corev1.Pod {
	h.t.Helper()
	list, err := h.cs.CoreV1().Pods(releaseNS).List(context.Background(), metav1.ListOptions{LabelSelector: batonSelector})
	if err != nil {
		h.t.Fatal(err)
	}
	return list.Items
}

// batonPodIPs are the addresses of the ready Baton pods.
func (h *helmEnv) batonPodIPs() []string {
	var ips []string
	for _, p := range h.batonPods() {
		if p.DeletionTimestamp == nil && podReady(&p) {
			ips = append(ips, p.Status.PodIP)
		}
	}
	if len(ips) == 0 {
		h.t.Fatal("no ready Baton pod")
	}
	return ips
}

func (h *helmEnv) batonPodNames() []string {
	var names []string
	for _, p := range h.batonPods() {
		names = append(names, p.Name)
	}
	return names
}

// waitPodsGone waits until none of the named Baton pods exists (nil: none
// at all).
func (h *helmEnv) waitPodsGone(names []string) {
	h.t.Helper()
	err := poll(context.Background(), 2*time.Minute, func() error {
		for _, p := range h.batonPods() {
			if names == nil || slices.Contains(names, p.Name) {
				return fmt.Errorf("baton pod %s still there", p.Name)
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *helmEnv) expectImage(image string) {
	h.t.Helper()
	for _, p := range h.batonPods() {
		if got := p.Spec.Containers[0].Image; got != image || !podReady(&p) {
			h.t.Errorf("baton pod %s runs %s (ready %v), want %s", p.Name, got, podReady(&p), image)
		}
	}
}

// echoPods are the ready echo pods not being deleted.
func (h *helmEnv) echoPods() []string {
	h.t.Helper()
	list, err := h.cs.CoreV1().Pods(appNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=echo"})
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && podReady(&p) {
			names = append(names, p.Name)
		}
	}
	return names
}

// waitEchoReady waits for n ready echo pods, none of them not.
func (h *helmEnv) waitEchoReady(n int, not string) {
	h.t.Helper()
	err := poll(context.Background(), 2*time.Minute, func() error {
		pods := h.echoPods()
		if len(pods) != n || slices.Contains(pods, not) {
			return fmt.Errorf("ready echo pods %v", pods)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// expectEcho wants a 200 from an echo pod for host at addr, allowing time
// for a just-created route or endpoint to arrive.
func (h *helmEnv) expectEcho(addr, host string) {
	h.t.Helper()
	err := poll(context.Background(), 30*time.Second, func() error {
		status, pod, err := framework.RawGet(addr, host, "/", 2*time.Second)
		// Ready pods are read after the answer: a pod that became ready
		// meanwhile (and so joined the endpoints) counts.
		if echo := h.echoPods(); err != nil || status != http.StatusOK || !slices.Contains(echo, pod) {
			return fmt.Errorf("GET http://%s/ Host %s: status %d, X-Pod %q, %v", addr, host, status, pod, err)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *helmEnv) expectIngressStatus(name, ip string) {
	h.t.Helper()
	var last []networkingv1.IngressLoadBalancerIngress
	err := poll(context.Background(), 30*time.Second, func() error {
		ing, err := h.cs.NetworkingV1().Ingresses(appNS).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = ing.Status.LoadBalancer.Ingress
		if len(last) != 1 || last[0].IP != ip {
			return fmt.Errorf("Ingress %s status %+v, want IP %s", name, last, ip)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

type object struct {
	kind, name string
	namespaced bool
}

// clusterScoped are the kinds the chart makes outside the namespace.
var clusterScoped = []string{"ClusterRole", "ClusterRoleBinding", "IngressClass"}

// manifestObjects lists the kind and name of every document of a rendered
// manifest (`helm get manifest`).
func manifestObjects(manifest string) []object {
	var objs []object
	for _, doc := range strings.Split(manifest, "\n---") {
		var o object
		inMetadata := false
		sc := bufio.NewScanner(strings.NewReader(doc))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "kind: "):
				o.kind = strings.TrimSpace(strings.TrimPrefix(line, "kind: "))
			case line == "metadata:":
				inMetadata = true
			case inMetadata && strings.HasPrefix(line, "  name: ") && o.name == "":
				o.name = strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "  name: ")), `"`)
			case !strings.HasPrefix(line, " "):
				inMetadata = false
			}
		}
		if o.kind != "" && o.name != "" {
			o.namespaced = !slices.Contains(clusterScoped, o.kind)
			objs = append(objs, o)
		}
	}
	return objs
}

// keepAliveLoad sends GETs one after another over kept-alive connections
// (framework.KeepAliveClient, which never retries) until stopped.
type keepAliveLoad struct {
	mu       sync.Mutex
	sent     int
	failures []string
	stopCh   chan struct{}
	done     chan struct{}
}

func startKeepAliveLoad(addr, host string) *keepAliveLoad {
	l := &keepAliveLoad{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		c := framework.NewKeepAliveClient(addr, 5*time.Second)
		defer c.Close()
		start := time.Now()
		for {
			status, _, err := c.Get(host, "/keepalive")
			l.mu.Lock()
			l.sent++
			if err != nil || status != http.StatusOK {
				l.failures = append(l.failures, fmt.Sprintf("at %v: status %d, %v", time.Since(start).Round(time.Millisecond), status, err))
			}
			l.mu.Unlock()
			select {
			case <-l.stopCh:
				return
			case <-time.After(loadInterval):
			}
		}
	}()
	return l
}

func (l *keepAliveLoad) stop() (sent int, failures []string) {
	close(l.stopCh)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.failures
}
