package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// TestLeaseLossKeepsServing freezes the API server (SIGSTOP) for more than
// three renew deadlines while the elected leader serves paced requests,
// each on a fresh connection and never retried. Losing the Lease must only
// pause status writing: no request fails, the process stays up, and once
// the API server is back the leader is elected again and writes the status
// of an Ingress created after the outage. It has its own control plane, so
// the freeze touches no other test.
func TestLeaseLossKeepsServing(t *testing.T) {
	c := ownControlPlane(t)
	const ns, class = "leader", "leader"
	createOn(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	pods := startPods(t, 64)
	createOn(t, c, ingressClass(class), service(ns, "web"), endpointSlice(ns, "web", pods[0]),
		ingress(ns, "web", class, rule{"leader.test", "/", "web"}))
	b := startBatonOn(t, c, class, "--leader-elect", "--leader-election-namespace", ns,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s",
		"--leader-election-retry-period", "1s")
	eventually(t, 30*time.Second, func() error { return loadBalancerIPOn(c, ns, "web", "192.0.2.10") })

	l := pacedLoad(b.HTTPAddr, "leader.test")
	if err := c.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second) // the outage under test, not a wait for something
	if err := c.ThawAPIServer(); err != nil {
		t.Fatal(err)
	}
	if !isRunning(b) {
		finishPaced(t, l) // to report what the exit cost
		t.Fatalf("baton exited on losing the Lease:\n%s", tail(b.Logs(), 30))
	}
	if !strings.Contains(b.Logs(), "lost the Lease") {
		t.Fatalf("the outage did not cost the Lease, so it tested nothing:\n%s", tail(b.Logs(), 30))
	}

	createOn(t, c, ingress(ns, "late", class, rule{"late.test", "/", "web"}))
	created := time.Now()
	eventually(t, 30*time.Second, func() error { return loadBalancerIPOn(c, ns, "late", "192.0.2.10") })
	t.Logf("status of an Ingress created after the outage written in %v", time.Since(created).Round(time.Millisecond))
	// The load ran through the outage, the new election and the write.
	if byPod := finishPaced(t, l); byPod["pod-64"] == 0 {
		t.Error("no request reached the backend")
	}
	if status, pod, err := framework.RawGet(b.HTTPAddr, "late.test", "/", 5*time.Second); err != nil || status != http.StatusOK || pod != "pod-64" {
		t.Errorf("late.test: status %d pod %q err %v", status, pod, err)
	}
	if ok, why := b.Ready(); !ok {
		t.Errorf("baton not ready after the outage: %s", why)
	}
}

func isRunning(b *framework.Baton) bool {
	select {
	case <-b.Exited():
		return false
	default:
		return true
	}
}
