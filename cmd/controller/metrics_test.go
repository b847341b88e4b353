package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// routing is a snapshot in which each source routes a host to upstream.
func routing(upstream string, sources ...string) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Upstreams: []snapshot.Upstream{{Name: upstream}}}
	for _, src := range sources {
		s.Hosts = append(s.Hosts, snapshot.VirtualHost{Name: src + ".example", Routes: []snapshot.Route{{Source: src}}})
	}
	return s
}

// seriesByIngress counts the series of both request metrics by Ingress.
func seriesByIngress(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "ingress" {
					out[l.GetValue()]++
				}
			}
		}
	}
	return out
}

// A deleted Ingress's series go at the next scrape, so that Ingress churn
// does not grow the heap and the scrape without end; the series of the
// Ingresses still routed, and of requests no route took, stay.
func TestRequestMetricsForgetIngressesNoLongerRouted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newRequestMetrics(reg)
	m.applied(routing("ns/svc:80", "ns/kept", "ns/deleted"))
	m.ObserveRequest("ns/kept", "ns/svc:80", 200, time.Millisecond)
	m.ObserveRequest("ns/deleted", "ns/svc:80", 200, time.Millisecond)
	m.ObserveRequest("ns/deleted", "ns/svc:80", 502, time.Millisecond)
	m.ObserveRequest("", "", 404, time.Millisecond)
	if got := seriesByIngress(t, reg); got["ns/deleted"] != 3 {
		t.Fatalf("before the delete: series by Ingress %v, want 3 for ns/deleted (2 codes, 1 histogram)", got)
	}
	m.applied(routing("ns/svc:80", "ns/kept"))
	got := seriesByIngress(t, reg)
	if got["ns/deleted"] != 0 {
		t.Errorf("the deleted Ingress still has %d series", got["ns/deleted"])
	}
	if got["ns/kept"] != 2 || got[""] != 2 {
		t.Errorf("series by Ingress %v, want 2 each for ns/kept and the unrouted requests", got)
	}
}

// An upstream no longer in the snapshot (a Service an Ingress stopped
// using) loses its series, even though the Ingress stays.
func TestRequestMetricsForgetUpstreamsNoLongerRouted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newRequestMetrics(reg)
	m.applied(routing("ns/old:80", "ns/ing"))
	m.ObserveRequest("ns/ing", "ns/old:80", 200, time.Millisecond)
	m.applied(routing("ns/new:80", "ns/ing"))
	if got := seriesByIngress(t, reg); got["ns/ing"] != 0 {
		t.Errorf("the series of an upstream no longer routed stayed: %v", got)
	}
}
