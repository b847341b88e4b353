//go:build envtest

package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/reconcile"
)

// TestStatusWritesAreRateLimited starts the controller on 60 Ingresses
// without status, with StatusWritesPerSecond 10: from the first status
// written, they must arrive at that pace (a burst of 10, then 10 a
// second), not all at once as a flood of patches would, and all of them
// must arrive.
func TestStatusWritesAreRateLimited(t *testing.T) {
	const n, rate = 60, 10
	e := newEnv(t, envOptions{opts: reconcile.Options{PublishStatusAddress: publishAddresses, StatusWritesPerSecond: rate},
		beforeRun: func(e *env) {
			e.create(e.service("web", 80, "http"))
			for i := range n {
				e.create(e.ingress(fmt.Sprintf("ing%d", i), e.class, fmt.Sprintf("h%d.example.com", i), "/", "web", 80))
			}
		}})
	published := func() int {
		var list networkingv1.IngressList
		if err := e.client.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, ing := range list.Items {
			if len(ing.Status.LoadBalancer.Ingress) > 0 {
				k++
			}
		}
		return k
	}
	e.eventually("a first status written", func() (bool, string) { return published() > 0, "none yet" })
	time.Sleep(time.Second)
	// A limiter may have written the burst and one second's worth by now,
	// never more; a slow machine only writes fewer.
	if k := published(); k > 2*rate+rate/2 {
		t.Fatalf("%d statuses written within a second of the first, want at most about %d at %d/s", k, 2*rate, rate)
	}
	e.eventually("every status written", func() (bool, string) {
		k := published()
		return k == n, fmt.Sprintf("%d of %d written", k, n)
	})
}
