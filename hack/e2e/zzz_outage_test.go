package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestAPIServerOutage freezes the kube-apiserver under load: traffic keeps
// flowing on the last snapshot, and changes resume once it is back.
func TestAPIServerOutage(t *testing.T) {
	ns := namespace(t, "outage")
	pods := startPods(t, 6, 11)
	create(t, ingressClass("outage"), service(ns, "web"), endpointSlice(ns, "web", pods[0]),
		ingress(ns, "web", "outage", rule{"outage.test", "/", "web"}))
	b := startBaton(t, "outage")

	l := startLoad(b.HTTPAddr, "outage.test", 4)
	if err := cp.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.ThawAPIServer() })
	time.Sleep(5 * time.Second)
	if err := cp.ThawAPIServer(); err != nil {
		t.Fatal(err)
	}
	l.finish(t)
	if l.served("pod-6") == 0 {
		t.Fatal("no request served while the API server was down")
	}
	create(t, ingress(ns, "late", "outage", rule{"late.test", "/", "web"}))
	eventually(t, 30*time.Second, func() error {
		status, _, _, err := get(b.HTTPAddr, "late.test", "/")
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
