//go:build envtest

package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
)

// TestEndpointBurstIsCoalesced writes 50 EndpointSlice updates back to
// back; far fewer snapshots are applied, and the last one has the final
// endpoints. Rebuilds here are cheap, so the debouncer paces them at its
// floor, a tenth of Debounce: after the burst, at most one per floor.
func TestEndpointBurstIsCoalesced(t *testing.T) {
	const debounce = 2 * time.Second
	e := newEnv(t, envOptions{opts: reconcile.Options{Debounce: debounce}})
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1"})
	e.create(e.service("web", 80, "http"))
	e.create(slice)
	e.create(e.ingress("web", e.class, "a.example.com", "/", "web", 80))
	upstream := "service/" + e.ns + "/web/80"
	e.sink.waitFor(t, "with the first endpoint", func(s *snapshot.Snapshot) bool {
		return len(endpointsOf(s, upstream)) == 1
	})
	before := e.sink.count()

	const updates = 50
	var addrs []string
	start := time.Now()
	for i := range updates {
		addrs = append(addrs, fmt.Sprintf("10.244.1.%d", i+1))
		update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, addrs) })
	}
	e.sink.waitFor(t, "with all 50 endpoints", func(s *snapshot.Snapshot) bool {
		return len(endpointsOf(s, upstream)) == updates
	})
	applies := e.sink.count() - before
	limit := reconcile.RebuildBurst + int(time.Since(start)/(debounce/10)) + 1
	t.Logf("%d EndpointSlice updates in %v -> %d snapshots applied (at most %d)", updates, time.Since(start), applies, limit)
	if limit >= updates {
		t.Fatalf("the updates took %v, too long for a burst to show coalescing", time.Since(start))
	}
	if applies > limit {
		t.Errorf("%d updates produced %d applies; want them coalesced into at most %d", updates, applies, limit)
	}
}

// TestReadyOnlyAfterFirstApply: objects that exist at start are in the
// very first snapshot applied; a failed Apply does not make the controller
// ready, and neither does one still in progress.
func TestReadyOnlyAfterFirstApply(t *testing.T) {
	sink := newRecordingSink()
	sink.failNext.Store(1)
	sink.entered = make(chan struct{}, 16)
	sink.hold = make(chan struct{})
	var c *reconcile.Controller
	e := newEnv(t, envOptions{customSink: sink, beforeRun: func(e *env) {
		c = e.controller
		if c.Ready() {
			t.Error("Ready before the manager started")
		}
		e.create(e.service("web", 80, "http"))
		e.create(e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1"}))
		e.create(e.ingress("web", e.class, "a.example.com", "/", "web", 80))
	}})
	for i := range 2 { // the failing call, then the held one
		select {
		case <-sink.entered:
		case <-time.After(waitLimit):
			t.Fatalf("Apply call %d did not happen", i+1)
		}
	}
	if c.Ready() {
		t.Fatal("Ready after a failed Apply while the retry is still in progress")
	}
	short, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady during the first Apply = %v, want a deadline error", err)
	}
	close(sink.hold)
	ctx, cancel2 := context.WithTimeout(e.ctx, waitLimit)
	defer cancel2()
	if err := c.WaitReady(ctx); err != nil || !c.Ready() {
		t.Fatalf("WaitReady = %v, Ready = %v after the Apply returned", err, c.Ready())
	}
	first, _ := sink.last()
	if sink.count() != 1 || findRoute(first, "a.example.com", "/") == nil {
		t.Fatalf("first applied snapshot lacks the route that existed at start: %s", describe(first))
	}
}

// TestStatusWrittenOnlyByLeader: while another holder owns the Lease the
// controller serves snapshots but writes no status; once elected, it
// writes what it built before.
func TestStatusWrittenOnlyByLeader(t *testing.T) {
	e := newEnv(t, envOptions{leaderNS: true, opts: reconcile.Options{PublishStatusAddress: publishAddresses},
		beforeRun: func(e *env) {
			now := metav1.NewMicroTime(time.Now())
			e.create(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "baton-leader", Namespace: e.ns},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("someone-else"), LeaseDurationSeconds: ptr.To[int32](3600),
					AcquireTime: &now, RenewTime: &now}})
			e.create(e.service("web", 80, "http"))
			e.create(&v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: e.ns}, Spec: v1alpha1.UpstreamSpec{
				Endpoints: []v1alpha1.StaticEndpoint{{Address: "10.244.1.1", Port: 9000}}}})
			e.create(e.ingress("web", e.class, "a.example.com", "/", "nope", 80))
		}})
	ctx, cancel := context.WithTimeout(e.ctx, waitLimit)
	defer cancel()
	if err := e.controller.WaitReady(ctx); err != nil {
		t.Fatalf("a replica that is not leader must still apply snapshots: %v", err)
	}
	// Absence can only be observed over time: a leader writes within
	// milliseconds of its first snapshot.
	time.Sleep(time.Second)
	var up v1alpha1.Upstream
	if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: "api"}, &up); err != nil {
		t.Fatal(err)
	}
	if len(up.Status.Conditions) != 0 || len(e.ingressLBOf(types.NamespacedName{Namespace: e.ns, Name: "web"})) != 0 {
		t.Fatalf("a replica that is not leader wrote status: %+v", up.Status)
	}
	if evs := e.events("web"); len(evs) != 0 {
		t.Fatalf("a replica that is not leader emitted Events: %+v", evs)
	}

	if err := e.client.Delete(e.ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "baton-leader", Namespace: e.ns}}); err != nil {
		t.Fatal(err)
	}
	e.waitUpstreamStatus("api", 1, metav1.ConditionTrue, v1alpha1.ReasonReady, 1, 1)
	e.waitIngressLB("web", []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.10"}, {Hostname: "lb.example.com"}})
	e.waitEvent("web", "ServiceNotFound")
}
