package reconcile

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// Metrics live in controller-runtime's registry, so the manager's metrics
// endpoint serves them next to the workqueue and client metrics.
var (
	buildSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "baton_snapshot_build_seconds",
		Help:    "Time to list the cached objects and translate them into a snapshot.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms .. ~4s
	})
	appliesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baton_snapshot_applies_total",
		Help: "Snapshots handed to the data plane, by result (ok or error).",
	}, []string{"result"})
	snapshotVersion = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "baton_snapshot_version",
		Help: "Version of the last snapshot the data plane accepted.",
	})
	upstreamEndpoints = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "baton_upstream_endpoints",
		Help: "Endpoints of each Upstream (namespace/name), by state (ready or total).",
	}, []string{"upstream", "state"})
	statusLeader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "baton_status_leader",
		Help: "1 while this replica writes statuses and Events: it holds the leader Lease, or runs without --leader-elect.",
	})

	statusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baton_status_writes_total",
		Help: "Status patches sent to the API server, by kind (Ingress or Upstream).",
	}, []string{"kind"})

	registerOnce sync.Once
)

// registerMetrics is idempotent: tests and embedders may call Setup more
// than once per process.
func registerMetrics() {
	registerOnce.Do(func() {
		metrics.Registry.MustRegister(buildSeconds, appliesTotal, snapshotVersion, upstreamEndpoints, statusLeader, statusWrites)
	})
}

// upstreamGauges sets the endpoint gauges of the current Upstreams and
// deletes the series of those that are gone, so a deleted Upstream does
// not report its last counts forever.
type upstreamGauges struct {
	seen map[types.NamespacedName]bool
}

func (g *upstreamGauges) update(results []translate.UpstreamResult) {
	now := make(map[types.NamespacedName]bool, len(results))
	for _, r := range results {
		now[r.Key] = true
		name := r.Key.String()
		upstreamEndpoints.WithLabelValues(name, "ready").Set(float64(r.Status.ReadyEndpoints))
		upstreamEndpoints.WithLabelValues(name, "total").Set(float64(r.Status.TotalEndpoints))
	}
	for key := range g.seen {
		if !now[key] {
			upstreamEndpoints.DeleteLabelValues(key.String(), "ready")
			upstreamEndpoints.DeleteLabelValues(key.String(), "total")
		}
	}
	g.seen = now
}

func recordApply(version uint64, err error) {
	if err != nil {
		appliesTotal.WithLabelValues("error").Inc()
		return
	}
	appliesTotal.WithLabelValues("ok").Inc()
	snapshotVersion.Set(float64(version))
}
