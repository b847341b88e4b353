package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/hack/e2e/framework"
	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// pollLimit gives up on a change that never shows.
const pollLimit = 30 * time.Second

// poller asks the proxy, one request at a time on a kept-alive connection,
// as a user's client would.
type poller struct {
	http, https string
	c           *framework.KeepAliveClient
}

func newPoller(b *framework.Baton) *poller {
	return &poller{http: b.HTTPAddr, https: b.HTTPSAddr, c: framework.NewKeepAliveClient(b.HTTPAddr, 5*time.Second)}
}

// until polls host+path until ok holds for the responses so far (the
// latest last) and returns when the last response arrived.
func (p *poller) until(host, path string, ok func(seen []response) bool) (time.Time, error) {
	deadline := time.Now().Add(pollLimit)
	var seen []response
	for time.Now().Before(deadline) {
		status, pod, err := p.c.Get(host, path)
		if err != nil {
			status = 0
		}
		seen = append(seen, response{status, pod})
		if len(seen) > 4 {
			seen = seen[1:]
		}
		if ok(seen) {
			return time.Now(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s%s: no response as expected within %v; last %v", host, path, pollLimit, seen)
}

type response struct {
	status int
	pod    string
}

func status(code int) func([]response) bool {
	return func(seen []response) bool { return seen[len(seen)-1].status == code }
}

// settle waits for the probes' initial state.
func (p *poller) settle(w *world) error {
	for _, c := range []struct {
		host, path string
		ok         func([]response) bool
	}{{"path.probe", "/v0", status(200)}, {"ep.probe", "/", status(503)}, {"port.probe", "/", status(404)},
		{"w.probe", "/", status(200)}, {"tls.probe", "/", status(200)}} {
		if _, err := p.until(c.host, c.path, c.ok); err != nil {
			return err
		}
	}
	_, err := p.tlsUntil(fmt.Sprint(w.serial))
	return err
}

func (p *poller) tlsUntil(serial string) (time.Time, error) {
	deadline := time.Now().Add(pollLimit)
	for time.Now().Before(deadline) {
		if got, err := handshakeSerial(p.https, "tls.probe"); err == nil && got == serial {
			return time.Now(), nil
		}
	}
	return time.Time{}, fmt.Errorf("certificate serial %s not served within %v", serial, pollLimit)
}

// kind is one kind of change: measure makes its i-th change and returns
// the time from the write returning to the proxy showing it.
type kind struct {
	name    string
	measure func(w *world, p *poller, i int) (time.Duration, error)
}

var kinds = []kind{
	{"new Ingress", func(w *world, p *poller, i int) (time.Duration, error) {
		host := fmt.Sprintf("new%d.probe", i)
		return timed(w.c.Create(background, ingress(fmt.Sprintf("new%d", i), host, "/", "probe", 80)),
			func() (time.Time, error) { return p.until(host, "/", status(200)) })
	}},
	{"Ingress path changed", func(w *world, p *poller, i int) (time.Duration, error) {
		path := fmt.Sprintf("/v%d", i+1)
		err := patch(w, &networkingv1.Ingress{}, "pathprobe", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].HTTP.Paths[0].Path = path
		})
		return timed(err, func() (time.Time, error) { return p.until("path.probe", path, status(200)) })
	}},
	{"endpoint added", func(w *world, p *poller, i int) (time.Duration, error) {
		if _, err := setEndpointsAndPoll(w, p, nil, 503); err != nil { // unmeasured set-up
			return 0, err
		}
		return setEndpointsAndPoll(w, p, []string{w.a.IP}, 200)
	}},
	{"endpoint removed", func(w *world, p *poller, i int) (time.Duration, error) {
		if _, err := setEndpointsAndPoll(w, p, []string{w.a.IP}, 200); err != nil { // unmeasured set-up
			return 0, err
		}
		return setEndpointsAndPoll(w, p, nil, 503)
	}},
	{"Service port changed", func(w *world, p *poller, i int) (time.Duration, error) {
		port, want := int32(81), 200 // the port the Ingress names: routed
		if i%2 == 1 {
			port, want = 80, 404 // not the Ingress's port: the route is dropped
		}
		err := patch(w, &corev1.Service{}, "portsvc", func(s *corev1.Service) { s.Spec.Ports[0].Port = port })
		return timed(err, func() (time.Time, error) { return p.until("port.probe", "/", status(want)) })
	}},
	{"TLS Secret rotated", func(w *world, p *poller, i int) (time.Duration, error) {
		crt, key := w.certificate()
		err := patch(w, &corev1.Secret{}, "tlsprobe", func(s *corev1.Secret) {
			s.Data = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
		})
		return timed(err, func() (time.Time, error) { return p.tlsUntil(fmt.Sprint(w.serial)) })
	}},
	{"Upstream weight changed", func(w *world, p *poller, i int) (time.Duration, error) {
		// 1:1 alternates a and b strictly; 1:10000 sends b nearly all.
		b, ok := int32(10000), twice(w.b.Name, 2)
		if i%2 == 1 {
			b, ok = 1, twice(w.a.Name, 3)
		}
		err := patch(w, &v1alpha1.Upstream{}, "wprobe", func(u *v1alpha1.Upstream) { u.Spec.Endpoints = weights(1, b, w) })
		return timed(err, func() (time.Time, error) { return p.until("w.probe", "/", ok) })
	}},
}

// twice holds when pod answered two of the last `within` responses: after
// a weight change to 1:10000 two b's in a row, after one back to 1:1 two
// a's within three responses, neither of which the old weights give.
func twice(pod string, within int) func([]response) bool {
	return func(seen []response) bool {
		n := 0
		for _, r := range seen[max(0, len(seen)-within):] {
			if r.pod == pod {
				n++
			}
		}
		return n >= 2
	}
}

func setEndpointsAndPoll(w *world, p *poller, addrs []string, want int) (time.Duration, error) {
	err := patch(w, &discoveryv1.EndpointSlice{}, "epprobe-0", func(s *discoveryv1.EndpointSlice) { setEndpoints(s, addrs) })
	return timed(err, func() (time.Time, error) { return p.until("ep.probe", "/", status(want)) })
}

// timed runs poll after a write that returned err, and measures from now.
func timed(err error, poll func() (time.Time, error)) (time.Duration, error) {
	if err != nil {
		return 0, err
	}
	written := time.Now()
	at, err := poll()
	return at.Sub(written), err
}

// patch changes the object called name with a merge patch, which needs
// no resourceVersion and so never conflicts with Baton's status writes.
func patch[T client.Object](w *world, obj T, name string, change func(T)) error {
	if err := w.c.Get(background, types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
		return err
	}
	base := obj.DeepCopyObject().(client.Object)
	change(obj)
	return w.c.Patch(background, obj, client.MergeFrom(base))
}

// churnResult is the churn phase's: proxy latency before and during it,
// failed requests, and how long the marker changes took to show.
type churnResult struct {
	idleP99, churnP99 time.Duration
	// directIdle and directChurn are the same load's p99 sent straight to
	// a backend, past Baton, without and with the same churn: the part of
	// the rise that is the machine (API server, etcd, the churn writers
	// and this client share its two cores), not the proxy.
	directIdle, directChurn time.Duration
	// unwatched is the p99 through Baton under the same rate of changes
	// to slices Baton does not watch (no Service label): the machine's
	// load with one more hop, without Baton's work per change.
	unwatched        time.Duration
	requests, failed int
	markerMax        time.Duration
	changes          int
	rebuilds         float64 // snapshot builds during the churn: fewer than changes when they batch
	cpu              float64 // Baton's CPU during the churn, in cores (of the machine's two)
	// trace times the churn's requests; gcDuring counts Baton's
	// collections in the churn, slowInGC the slow requests (at or above
	// p99) that started in one (with GODEBUG=gctrace=1).
	trace                    *requestTrace
	gcDuring, slow, slowInGC int
	// rss and heap (in use) when the churn started and when it ended.
	rssStart, rssEnd   int64
	heapStart, heapEnd float64
}

// runChurn changes a bulk EndpointSlice every 10 ms for d while a paced
// load (one request per ms) goes through the proxy; once a second the
// marker change adds or removes the endpoint of ep.probe, polled until it
// shows. Each churn request's start (Unix ns) and latency (µs) go to
// dir/churn.tsv, to line slow ones up with Baton's garbage collections.
func runChurn(w *world, p *poller, b *framework.Baton, d time.Duration, dir string) (churnResult, error) {
	var r churnResult
	// Heap profiles around the churn (each after a collection) tell what
	// it allocates: pprof -diff_base churn-start.pb.gz -sample_index=alloc_space.
	if err := saveHeapProfile(b.MetricsAddr, filepath.Join(dir, "churn-start.pb.gz")); err != nil {
		return r, err
	}
	idle, failedIdle := load(b.HTTPAddr, 3*time.Second, nil)
	r.idleP99 = pct(idle, 99)
	r.rssStart, r.heapStart = memory(b)
	builds := func() float64 {
		m, _ := framework.ScrapeMetrics(b.MetricsAddr)
		return sum(m, "baton_snapshot_build_seconds_count")
	}
	buildsBefore := builds()
	cpuBefore, churnStart := cpuSeconds(b), time.Now()
	profiled := make(chan error, 1)
	go func() {
		profiled <- saveCPUProfile(b.MetricsAddr, d-time.Second, filepath.Join(dir, "churn-cpu.pb.gz"))
	}()
	var stop atomic.Bool
	var changes atomic.Int64
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		werr = churn(w, &stop, &changes, true)
	}()
	trace := &requestTrace{}
	r.trace = trace
	defer trace.save(filepath.Join(dir, "churn.tsv"))
	busy, failed := loadTraced(b.HTTPAddr, d, trace, func(i int) error {
		addrs := []string{w.a.IP}
		if i%2 == 1 {
			addrs = nil
		}
		lag, err := setEndpointsAndPoll(w, p, addrs, map[bool]int{true: 503, false: 200}[addrs == nil])
		r.markerMax = max(r.markerMax, lag)
		changes.Add(1)
		return err
	})
	stop.Store(true)
	wg.Wait()
	r.rssEnd, r.heapEnd = memory(b)
	r.rebuilds = builds() - buildsBefore
	r.cpu = (cpuSeconds(b) - cpuBefore) / time.Since(churnStart).Seconds()
	if err := saveHeapProfile(b.MetricsAddr, filepath.Join(dir, "churn-end.pb.gz")); err != nil {
		return r, err
	}
	if err := <-profiled; err != nil {
		return r, err
	}
	r.churnP99, r.requests, r.failed, r.changes = pct(busy, 99), len(busy)+failed, failed+failedIdle, int(changes.Load())
	if werr != nil {
		return r, werr
	}
	if r.unwatched, werr = underChurn(w, b.HTTPAddr, d/3, false); werr != nil {
		return r, werr
	}
	r.directIdle, r.directChurn, werr = directUnderChurn(w, d/3)
	return r, werr
}

// underChurn is the p99 of the paced load sent to addr for d under churn
// of the watched or the unwatched bulk slices.
func underChurn(w *world, addr string, d time.Duration, watched bool) (time.Duration, error) {
	var stop atomic.Bool
	var changes atomic.Int64
	done := make(chan error, 1)
	go func() { done <- churn(w, &stop, &changes, watched) }()
	churned, _ := load(addr, d, nil)
	stop.Store(true)
	return pct(churned, 99), <-done
}

// directUnderChurn is the p99 of the paced load sent straight to backend
// a, first without churn, then for d under the same churn.
func directUnderChurn(w *world, d time.Duration) (idle, busy time.Duration, err error) {
	addr := net.JoinHostPort(w.a.IP, strconv.Itoa(podPort))
	quiet, _ := load(addr, 3*time.Second, nil)
	busy, err = underChurn(w, addr, d, true)
	return pct(quiet, 99), busy, err
}

// churn writes 100 EndpointSlice changes a second, from four writers, to
// the bulk Services' slices in turn (or the unwatched ones, of the same
// size), each replacing one endpoint address.
func churn(w *world, stop *atomic.Bool, changes *atomic.Int64, watched bool) error {
	var list discoveryv1.EndpointSliceList
	if err := w.c.List(background, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	var bulk []string
	for _, s := range list.Items {
		if _, labelled := s.Labels[discoveryv1.LabelServiceName]; len(s.Endpoints) == 50 && labelled == watched {
			bulk = append(bulk, s.Name)
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	jobs := make(chan int, 16)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := bulk[i%len(bulk)]
				err := patch(w, &discoveryv1.EndpointSlice{}, name, func(s *discoveryv1.EndpointSlice) {
					s.Endpoints[i%50].Addresses = []string{fmt.Sprintf("10.244.%d.%d", 208+i%8, 1+i%250)}
				})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				changes.Add(1)
			}
		}()
	}
	for i := 0; !stop.Load(); i++ {
		<-tick.C
		select {
		case jobs <- i:
		default: // the API server is behind; the rate is what it takes
		}
	}
	close(jobs)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// load sends one request a millisecond to tls.probe for d, with marker
// called once a second (in its own goroutine), and returns the latencies
// of the 200s and the number of other outcomes.
func load(addr string, d time.Duration, marker func(i int) error) ([]time.Duration, int) {
	return loadTraced(addr, d, nil, marker)
}

// requestTrace is when each request started and how long it took.
type requestTrace struct {
	start []time.Time
	took  []time.Duration
}

func (t *requestTrace) add(start time.Time, took time.Duration) {
	if t != nil {
		t.start, t.took = append(t.start, start), append(t.took, took)
	}
}

func (t *requestTrace) save(path string) {
	var b strings.Builder
	for i := range t.start {
		fmt.Fprintf(&b, "%d\t%d\n", t.start[i].UnixNano(), t.took[i].Microseconds())
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o644)
}

func loadTraced(addr string, d time.Duration, trace *requestTrace, marker func(i int) error) ([]time.Duration, int) {
	c := framework.NewKeepAliveClient(addr, 5*time.Second)
	defer c.Close()
	var lat []time.Duration
	failed := 0
	var mwg sync.WaitGroup
	end := time.Now().Add(d)
	next := time.Now()
	nextMarker, m := time.Now().Add(time.Second), 0
	for time.Now().Before(end) {
		if marker != nil && time.Now().After(nextMarker) {
			mwg.Wait() // one marker at a time
			mwg.Add(1)
			go func(i int) { defer mwg.Done(); _ = marker(i) }(m)
			m++
			nextMarker = nextMarker.Add(time.Second)
		}
		start := time.Now()
		status, _, err := c.Get("tls.probe", "/")
		if err != nil || status != 200 {
			failed++
		} else {
			lat = append(lat, time.Since(start))
			trace.add(start, lat[len(lat)-1])
		}
		next = next.Add(time.Millisecond)
		time.Sleep(time.Until(next))
	}
	mwg.Wait()
	return lat, failed
}

// cpuSeconds is the CPU time Baton has used.
func cpuSeconds(b *framework.Baton) float64 {
	m, _ := framework.ScrapeMetrics(b.MetricsAddr)
	return sum(m, "process_cpu_seconds_total")
}

// memory is Baton's resident set and Go heap in use.
func memory(b *framework.Baton) (int64, float64) {
	rss, _ := framework.ProcessRSS(b.PID())
	m, err := framework.ScrapeMetrics(b.MetricsAddr)
	if err != nil {
		return rss, 0
	}
	return rss, sum(m, "go_memstats_heap_inuse_bytes")
}
