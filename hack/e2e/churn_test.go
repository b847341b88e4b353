package e2e

import (
	"context"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// TestScaleUnderLoad scales a Service up and down while clients send
// requests: no request may fail, and new pods must receive traffic.
func TestScaleUnderLoad(t *testing.T) {
	ns := namespace(t, "scale")
	pods := startPods(t, 3, 4, 5)
	create(t, ingressClass("scale"), service(ns, "web"), endpointSlice(ns, "web", pods[0]),
		ingress(ns, "web", "scale", rule{"scale.test", "/", "web"}))
	b := startBaton(t, "scale")

	l := startLoad(b.HTTPAddr, "scale.test", 8)
	setEndpoints(t, ns, "web", pods...) // scale up to three
	eventually(t, 10*time.Second, func() error { return servedBy(l, "pod-4", "pod-5") })
	// Scale down the way Kubernetes does: the endpoint leaves the slice
	// while the pod still runs, and the pod stops after that.
	setEndpoints(t, ns, "web", pods[0])
	time.Sleep(time.Second)
	pods[1].Kill()
	pods[2].Kill()
	time.Sleep(time.Second)
	l.finish(t)
}

// TestBackendKilledUnderLoad kills a backend process without telling
// Kubernetes: connections to it are refused and requests go to the others.
func TestBackendKilledUnderLoad(t *testing.T) {
	ns := namespace(t, "kill")
	pods := startPods(t, 9, 10)
	create(t, ingressClass("kill"), service(ns, "web"), endpointSlice(ns, "web", pods...),
		ingress(ns, "web", "kill", rule{"kill.test", "/", "web"}))
	b := startBaton(t, "kill")

	before := startLoad(b.HTTPAddr, "kill.test", 8)
	time.Sleep(time.Second)
	pods[0].Kill()
	time.Sleep(500 * time.Millisecond)
	close(before.stop)
	before.wg.Wait()
	// Requests already on the killed connection may fail; at most one per
	// worker.
	if f := before.failed.Load(); f > 8 {
		t.Errorf("%d requests failed around the kill, want at most 8 (in flight)", f)
	}
	after := startLoad(b.HTTPAddr, "kill.test", 8)
	time.Sleep(2 * time.Second)
	after.finish(t)
	if n := after.served("pod-9"); n != 0 {
		t.Errorf("killed pod-9 served %d requests", n)
	}
}

func setEndpoints(t *testing.T, ns, svc string, pods ...*framework.Pod) {
	t.Helper()
	var s discoveryv1.EndpointSlice
	if err := cp.Client.Get(context.Background(), keyOf(ns, svc+"-1"), &s); err != nil {
		t.Fatal(err)
	}
	s.Endpoints = endpointSlice(ns, svc, pods...).Endpoints
	if err := cp.Client.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
}

func servedBy(l *load, pods ...string) error {
	for _, p := range pods {
		if l.served(p) == 0 {
			return errNotServed(p)
		}
	}
	return nil
}

type errNotServed string

func (e errNotServed) Error() string { return string(e) + " has served no request yet" }
