package main

import (
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/router"
)

// requestMetrics records every proxied request by the Ingress that routed it
// and the upstream that served it.
type requestMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

var _ router.Observer = (*requestMetrics)(nil)

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_requests_total",
			Help: "Requests proxied, by routing Ingress (namespace/name), upstream and status code.",
		}, []string{"ingress", "upstream", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "baton_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, by Ingress and upstream.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"ingress", "upstream"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *requestMetrics) ObserveRequest(source, upstream string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(source, upstream, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(source, upstream).Observe(elapsed.Seconds())
}

// newPanicCounter counts panics the proxy recovered from: each one is a bug
// that cost a client a 500, and should page someone even though Baton
// itself kept serving.
func newPanicCounter(reg prometheus.Registerer) func() {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "baton_recovered_panics_total",
		Help: "Panics recovered while serving a request (the request got a 500 or was cut).",
	})
	reg.MustRegister(c)
	return c.Inc
}

// registry is controller-runtime's, so its metrics server exports ours too.
func registry() prometheus.Registerer { return metrics.Registry }

// registerLogMetrics exports the build and the access log lines lost to a
// writer that could not keep up (or failed): lines are dropped rather than
// making requests wait, so this is the only trace of them.
func registerLogMetrics(reg prometheus.Registerer, accessLog *accesslog.Logger) {
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "baton_build_info",
		Help: "Always 1; its labels say which build is running.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "baton_access_log_dropped_total",
		Help: "Access log lines dropped because the writer fell behind or failed.",
	}, func() float64 { return float64(accessLog.Dropped()) })
	reg.MustRegister(build, dropped)
}
