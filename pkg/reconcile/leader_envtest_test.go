//go:build envtest

package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
)

// Short election timings: a term ends 1.5s after the last renewal.
var testElection = reconcile.LeaderElection{LeaseDuration: 2 * time.Second,
	RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}

// leasePartition makes requests for Leases hang while it is cut, as an API
// server that stopped answering does, and lets them through when healed.
type leasePartition struct {
	mu  sync.Mutex
	cut chan struct{} // non-nil while cut; closed by heal
}

func (p *leasePartition) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if err := p.wait(req); err != nil {
				return nil, err
			}
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

func (p *leasePartition) wait(req *http.Request) error {
	if !strings.Contains(req.URL.Path, "/leases") {
		return nil
	}
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	if cut == nil {
		return nil
	}
	select {
	case <-cut:
		return nil
	case <-req.Context().Done():
		return req.Context().Err()
	}
}

func (p *leasePartition) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == nil {
		p.cut = make(chan struct{})
	}
}

func (p *leasePartition) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut != nil {
		close(p.cut)
		p.cut = nil
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// CancelRequest is not needed (wait follows the request's context), but
// without it client-go warns on every timeout.
func (roundTripFunc) CancelRequest(*http.Request) {}

// terms records when an elector's lead function ran, in place of the
// status writer.
type terms struct {
	mu      sync.Mutex
	start   []time.Time
	end     []time.Time
	changed chan struct{}
}

func newTerms() *terms { return &terms{changed: make(chan struct{}, 16)} }

func (r *terms) lead(ctx context.Context) error {
	r.note(&r.start)
	<-ctx.Done()
	r.note(&r.end)
	return nil
}

func (r *terms) note(at *[]time.Time) {
	r.mu.Lock()
	*at = append(*at, time.Now())
	r.mu.Unlock()
	r.changed <- struct{}{}
}

// wait blocks until n terms have started and ended of them have ended,
// and returns the times.
func (r *terms) wait(t *testing.T, what string, started, ended int) (start, end []time.Time) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		start, end = append([]time.Time(nil), r.start...), append([]time.Time(nil), r.end...)
		r.mu.Unlock()
		if len(start) >= started && len(end) >= ended {
			return start, end
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("%s: %d terms started and %d ended within %v; want %d and %d", what, len(start), len(end), waitLimit, started, ended)
		}
	}
}

// runElector runs an elector for the Lease of that name in ns until the
// test ends, or stop is called; done is closed when it has returned.
func runElector(t *testing.T, ns, lease, identity string, cfg *rest.Config, r *terms) (stop func(), done <-chan struct{}) {
	le := testElection
	le.Namespace, le.Name, le.Identity = ns, lease, identity
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if err := reconcile.RunElector(ctx, cfg, le, r.lead); err != nil {
			t.Errorf("elector %s: %v", identity, err)
		}
	}()
	stop = func() { cancel(); <-finished }
	t.Cleanup(stop)
	return stop, finished
}

func testNamespace(t *testing.T) string {
	t.Helper()
	c, err := client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := trim63("t-" + strings.ToLower(t.Name()))
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// A leader cut off from the API stops leading within the renew deadline,
// keeps running and campaigning, and leads again once the API answers; on
// shutdown it releases the Lease, after its writer has stopped.
func TestElectorPausesOnLeaseLossAndResumes(t *testing.T) {
	ns := testNamespace(t)
	var partition leasePartition
	r := newTerms()
	stop, done := runElector(t, ns, "lease", "a", partition.wrap(restConfig), r)
	r.wait(t, "first term", 1, 0)

	partition.Cut()
	cutAt := time.Now()
	_, end := r.wait(t, "term after the cut", 1, 1)
	if took := end[0].Sub(cutAt); took > testElection.RenewDeadline+500*time.Millisecond {
		t.Errorf("the term ended %v after the API stopped answering; want within the renew deadline %v", took, testElection.RenewDeadline)
	}
	select {
	case <-done:
		t.Fatal("the elector returned on losing the Lease")
	default:
	}

	partition.Heal()
	healedAt := time.Now()
	start, _ := r.wait(t, "second term after the API came back", 2, 1)
	t.Logf("term ended %v after the cut; next began %v after the heal", end[0].Sub(cutAt).Round(time.Millisecond), start[1].Sub(healedAt).Round(time.Millisecond))

	stop()
	_, end = r.wait(t, "second term ended by shutdown", 2, 2)
	var lease coordinationv1.Lease
	c, _ := client.New(restConfig, client.Options{Scheme: scheme})
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "lease"}, &lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("Lease still held by %q after shutdown", *h)
	}
	if lease.Spec.RenewTime == nil || lease.Spec.RenewTime.Time.Before(end[1].Truncate(time.Microsecond)) {
		t.Errorf("Lease released at %v, before the writer stopped at %v", lease.Spec.RenewTime, end[1])
	}
}

// A deposed leader stops before another replica starts, and that replica
// stops before the first one leads again: two writers never overlap.
func TestDeposedLeaderStopsBeforeSuccessorStarts(t *testing.T) {
	ns := testNamespace(t)
	var partition leasePartition
	a, b := newTerms(), newTerms()
	runElector(t, ns, "lease", "a", partition.wrap(restConfig), a)
	a.wait(t, "a leads", 1, 0)
	stopB, _ := runElector(t, ns, "lease", "b", restConfig, b)

	partition.Cut()
	_, aEnd := a.wait(t, "a deposed", 1, 1)
	bStart, _ := b.wait(t, "b takes over", 1, 0)
	gap := bStart[0].Sub(aEnd[0])
	t.Logf("a stopped %v before b started", gap.Round(time.Millisecond))
	if gap <= 0 {
		t.Fatalf("b started leading %v before a stopped", -gap)
	}

	partition.Heal()
	stopB()
	_, bEnd := b.wait(t, "b stopped", 1, 1)
	aStart, _ := a.wait(t, "a leads again after b released the Lease", 2, 1)
	if !aStart[1].After(bEnd[0]) {
		t.Fatalf("a led again at %v, before b stopped at %v", aStart[1], bEnd[0])
	}
}

// TestLosingLeaseKeepsRouting: a leader whose Lease requests stop being
// answered keeps building and applying snapshots, and its manager keeps
// running; statuses and Events of what changed meanwhile are written once
// it leads again.
func TestLosingLeaseKeepsRouting(t *testing.T) {
	partition := &leasePartition{}
	e := newEnv(t, envOptions{leaderNS: true, partition: partition, opts: reconcile.Options{PublishStatusAddress: publishAddresses}})
	want := []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.10"}, {Hostname: "lb.example.com"}}
	e.create(e.service("web", 80, "http"))
	e.create(e.ingress("one", e.class, "one.example.com", "/", "web", 80))
	e.waitIngressLB("one", want)

	partition.Cut()
	e.eventually("status writer stopped", func() (bool, string) {
		v := gaugeValue(t, "baton_status_leader", nil)
		return v == 0, fmt.Sprintf("baton_status_leader %v", v)
	})
	// three has a missing Service, for an Event; two comes after it, so
	// the snapshot that routes two was built with three too.
	e.create(e.ingress("three", e.class, "three.example.com", "/", "nope", 80))
	e.create(e.ingress("two", e.class, "two.example.com", "/", "web", 80))
	e.sink.waitFor(t, "routing the Ingress created without a Lease", func(s *snapshot.Snapshot) bool {
		return findHost(s, "two.example.com") != nil
	})
	// Absence can only be observed over time: a leader writes within
	// milliseconds of a snapshot.
	time.Sleep(time.Second)
	if lb := e.ingressLBOf(types.NamespacedName{Namespace: e.ns, Name: "two"}); len(lb) != 0 {
		t.Fatalf("status written without the Lease: %+v", lb)
	}
	if evs := e.events("three"); len(evs) != 0 {
		t.Fatalf("Event emitted without the Lease: %+v", evs)
	}
	select {
	case <-e.managerDone:
		t.Fatal("the manager stopped on losing the Lease")
	default:
	}

	partition.Heal()
	e.waitIngressLB("two", want)
	e.waitEvent("three", "ServiceNotFound")
}
