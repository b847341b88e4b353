package e2e

import (
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// TestAPIServerOutage freezes the kube-apiserver under paced, never-retried
// load: traffic keeps flowing on the last snapshot, and changes resume once
// it is back. It has its own control plane, so the freeze touches no other
// test whatever the order.
func TestAPIServerOutage(t *testing.T) {
	c := ownControlPlane(t)
	const ns = "outage"
	createOn(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	pods := startPods(t, 6, 11)
	createOn(t, c, ingressClass("outage"), service(ns, "web"), endpointSlice(ns, "web", pods[0]),
		ingress(ns, "web", "outage", rule{"outage.test", "/", "web"}))
	b := startBatonOn(t, c, "outage")

	l := pacedLoad(b.HTTPAddr, "outage.test")
	if err := c.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // the outage under test
	if err := c.ThawAPIServer(); err != nil {
		t.Fatal(err)
	}
	if byPod := finishPaced(t, l); byPod["pod-6"] == 0 {
		t.Fatal("no request served while the API server was down")
	}
	createOn(t, c, ingress(ns, "late", "outage", rule{"late.test", "/", "web"}))
	eventually(t, 30*time.Second, func() error {
		status, _, err := framework.RawGet(b.HTTPAddr, "late.test", "/", 5*time.Second)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return errStatus(status)
		}
		return nil
	})
}

type errStatus int

func (e errStatus) Error() string { return http.StatusText(int(e)) }
