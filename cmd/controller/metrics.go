package main

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/baton-dev/baton/pkg/dataplane"
	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// requestMetrics records every proxied request by the Ingress that routed it
// and the upstream that served it. It is the Collector of both vectors, so
// that each scrape first forgets the series of Ingresses and upstreams the
// data plane no longer routes: without that, every Ingress ever deleted
// (after it served a request) kept its series, about 6 KiB of heap and a
// scrape's worth of lines each, as ingress-nginx's collector also avoids.
type requestMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// routed is the snapshot last applied, read at scrape time; snapshots
	// are immutable once built (the router keeps them too).
	routed atomic.Pointer[snapshot.Snapshot]
}

var (
	_ router.Observer      = (*requestMetrics)(nil)
	_ prometheus.Collector = (*requestMetrics)(nil)
)

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
	reg.MustRegister(m)
	return m
}

func (m *requestMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.latency.Describe(ch)
}

func (m *requestMetrics) Collect(ch chan<- prometheus.Metric) {
	m.forgetUnrouted()
	m.requests.Collect(ch)
	m.latency.Collect(ch)
}

// applied records the snapshot the data plane now routes by: it costs a
// pointer store per change, the walk over it waits for a scrape.
func (m *requestMetrics) applied(s *snapshot.Snapshot) { m.routed.Store(s) }

// forgetUnrouted deletes the series whose Ingress (route source) or
// upstream the routed snapshot no longer has. A request still in flight
// on the previous snapshot may bring one back until the next scrape.
func (m *requestMetrics) forgetUnrouted() {
	s := m.routed.Load()
	if s == nil {
		return
	}
	sources, upstreams := routedNames(s)
	for _, l := range seriesLabels(m.latency) {
		if !sources[l["ingress"]] || !upstreams[l["upstream"]] {
			m.latency.Delete(l)
			m.requests.DeletePartialMatch(l)
		}
	}
}

// routedNames are the route sources and upstream names of s, each with
// "" (requests no route or no upstream took).
func routedNames(s *snapshot.Snapshot) (sources, upstreams map[string]bool) {
	sources, upstreams = map[string]bool{"": true}, map[string]bool{"": true}
	addRoutes := func(h *snapshot.VirtualHost) {
		for _, r := range h.Routes {
			sources[r.Source] = true
		}
	}
	for _, h := range s.AllHosts() {
		addRoutes(h)
	}
	for _, g := range s.Gateways {
		for _, p := range g.Ports {
			for i := range p.Hosts {
				addRoutes(&p.Hosts[i])
			}
		}
	}
	if s.DefaultBackend != nil {
		sources[s.DefaultBackend.Source] = true
	}
	for _, u := range s.AllUpstreams() {
		upstreams[u.Name] = true
	}
	return sources, upstreams
}

// seriesLabels are the label sets of v's series.
func seriesLabels(v prometheus.Collector) []prometheus.Labels {
	ch := make(chan prometheus.Metric)
	go func() {
		v.Collect(ch)
		close(ch)
	}()
	var out []prometheus.Labels
	for metric := range ch {
		var pb dto.Metric
		if metric.Write(&pb) != nil {
			continue
		}
		l := prometheus.Labels{}
		for _, pair := range pb.GetLabel() {
			l[pair.GetName()] = pair.GetValue()
		}
		out = append(out, l)
	}
	return out
}

// routedSink is the data plane as the controller's Sink, telling the
// request metrics which snapshot routes once it does. Check comes with
// the embedded DataPlane.
type routedSink struct {
	*dataplane.DataPlane
	metrics *requestMetrics
}

func (s routedSink) Apply(snap *snapshot.Snapshot) error {
	if err := s.DataPlane.Apply(snap); err != nil {
		return err
	}
	s.metrics.applied(snap)
	return nil
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
