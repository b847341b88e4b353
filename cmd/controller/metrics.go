package main

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

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
