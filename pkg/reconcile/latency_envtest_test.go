//go:build envtest

package reconcile_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
)

// TestMeasureApplyLatency measures, for 100 EndpointSlice changes made one
// after another, the time from the API write returning to the Apply that
// contains the change, with the default debounce. It reports and asserts
// nothing about speed; hack/bench.sh runs it with
// -run TestMeasureApplyLatency -v and reads the apply-latency line.
func TestMeasureApplyLatency(t *testing.T) {
	e := newEnv(t, envOptions{opts: reconcile.Options{}})
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1"})
	e.create(e.service("web", 80, "http"))
	e.create(slice)
	e.create(e.ingress("web", e.class, "a.example.com", "/", "web", 80))
	upstream := "service/" + e.ns + "/web/80"
	e.sink.waitFor(t, "with the first endpoint", func(s *snapshot.Snapshot) bool {
		return len(endpointsOf(s, upstream)) == 1
	})

	const changes = 100
	latencies := make([]time.Duration, 0, changes)
	for i := range changes {
		addr := fmt.Sprintf("10.244.%d.%d", 1+i/250, 1+i%250)
		update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, []string{addr}) })
		written := time.Now()
		_, applied := e.sink.waitFor(t, "with endpoint "+addr, func(s *snapshot.Snapshot) bool {
			eps := endpointsOf(s, upstream)
			return len(eps) == 1 && eps[0] == addr+":8080"
		})
		latencies = append(latencies, applied.Sub(written))
	}
	if len(latencies) != changes {
		t.Fatalf("measured %d changes, want %d", len(latencies), changes)
	}
	slices.Sort(latencies)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	t.Logf("apply-latency p50=%sms p99=%sms max=%sms n=%d debounce=%v",
		ms(percentile(latencies, 50)), ms(percentile(latencies, 99)), ms(latencies[len(latencies)-1]), changes, reconcile.DefaultDebounce)
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}
