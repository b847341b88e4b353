package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/util/retry"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// The soak keeps a constant number of keep-alive clients busy while the
// EndpointSlice changes every 100 ms and the Ingress every second.
const (
	soakWorkers     = 16
	soakWarmup      = 5 * time.Second // connections, pools and caches settle
	soakWindow      = 5 * time.Second // memory is compared between two windows this long
	sliceInterval   = 100 * time.Millisecond
	ingressInterval = time.Second
	soakHost        = "soak.test"
	soakExtraHost   = "extra.soak.test"
	mib             = 1 << 20
)

// TestSoak is the long-running part of `make bench` (hack/bench/soak.sh).
// It runs only when BATON_SOAK holds a duration, so `make test` stays short.
//
// No request may fail: endpoints leave the slice (or turn not ready) while
// their backend keeps running, and pod-40 is always ready, exactly the
// order Kubernetes uses. Memory must not grow: see checkGrowth.
func TestSoak(t *testing.T) {
	d := soakDuration(t)
	ns := namespace(t, "soak")
	pods := startPods(t, 40, 41, 42, 43)
	create(t, ingressClass("soak"), service(ns, "web"), endpointSlice(ns, "web", pods...),
		ingress(ns, "web", "soak", rule{soakHost, "/", "web"}))
	metricsAddr := framework.FreeAddr()
	accessLog := soakAccessLog(t)
	// A repeated flag wins over StartBaton's own --metrics-bind-address.
	b := startBaton(t, "soak", "--metrics-bind-address", metricsAddr, "--access-log", accessLog)
	t.Cleanup(func() { dumpOnFailure(t, b, pods) })
	eventually(t, 30*time.Second, func() error { return statusIs(b.HTTPAddr, soakHost, "/", http.StatusOK) })

	mon := &memMonitor{pid: b.PID(), addr: metricsAddr}
	first := mon.scrape(t)
	res := runSoak(d, b.HTTPAddr, ns, pods, mon)
	last := mon.scrape(t)

	res.loadHeap = liveHeap()
	res.batonMax = maxAccessLogDuration(t, b, accessLog)
	res.snapshots = counterDelta(first, last, `baton_snapshot_applies_total{result="ok"}`)
	res.snapshotErrors = counterDelta(first, last, `baton_snapshot_applies_total{result="error"}`)
	res.report(t, d, mon)
	res.check(t, pods)
	mon.checkGrowth(t)
	// After all that churn, changes must still reach the data plane.
	res.ingress.finalCheck(t, b.HTTPAddr)
	keepLog(t, b)
}

// keepLog writes Baton's own log (its stdout and stderr) to
// $BATON_SOAK_LOG when it is set (soak.sh sets it), beside the access log,
// which Baton writes to its file itself (see soakAccessLog).
func keepLog(t *testing.T, b *framework.Baton) {
	if path := os.Getenv("BATON_SOAK_LOG"); path != "" {
		if err := os.WriteFile(path, []byte(b.Logs()), 0o644); err != nil {
			t.Log(err)
		}
	}
}

// dumpOnFailure makes a failed Baton print every goroutine's stack (Go does
// on SIGQUIT) and keeps its whole log in a file: a stuck request is then
// visible with the lock or channel it waits on.
func dumpOnFailure(t *testing.T, b *framework.Baton, pods []*framework.Pod) {
	if !t.Failed() {
		return
	}
	for _, p := range pods {
		if err := p.NetworkPresent(); err != nil {
			t.Log(err)
		}
	}
	_ = b.Signal(syscall.SIGQUIT)
	_ = b.Wait(10 * time.Second)
	f, err := os.CreateTemp("", "baton-soak-*.log")
	if err != nil {
		t.Log(err)
		return
	}
	defer f.Close()
	_, _ = f.WriteString(b.Logs())
	t.Logf("Baton's log with a goroutine dump: %s", f.Name())
}

// soakAccessLog is where Baton writes its access log: $BATON_SOAK_ACCESS_LOG
// (soak.sh keeps it with the results), else a temporary file. Not
// Baton's stdout: the framework keeps that in the test's memory, and a
// minute of access log is hundreds of MB there; each garbage collection
// of that heap stalled the load's own goroutines for about its mark
// phase (100-200 ms at 300-450 MB, longer as the heap grows), and the
// soak reported those stalls as Baton's latency. "stdout" still does
// that, to compare.
func soakAccessLog(t *testing.T) string {
	if path := os.Getenv("BATON_SOAK_ACCESS_LOG"); path != "" {
		return path
	}
	return filepath.Join(t.TempDir(), "access.log")
}

// maxAccessLogDuration is the longest request as Baton timed it, from
// its JSON access log: with the load's own timing, it tells a request
// slow in Baton from one slow in the load's process or on the machine.
func maxAccessLogDuration(t *testing.T, b *framework.Baton, path string) time.Duration {
	var log io.Reader = strings.NewReader(b.Logs())
	if path != "stdout" {
		f, err := os.Open(path)
		if err != nil {
			t.Log(err)
			return 0
		}
		defer f.Close()
		log = f
	}
	var longest float64
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		_, rest, ok := strings.Cut(sc.Text(), `"duration":`)
		if !ok {
			continue
		}
		end := strings.IndexAny(rest, ",}")
		if end < 0 {
			continue
		}
		if d, err := strconv.ParseFloat(rest[:end], 64); err == nil {
			longest = max(longest, d)
		}
	}
	if err := sc.Err(); err != nil {
		t.Log(err)
	}
	return time.Duration(longest * float64(time.Second))
}

// maxLoadHeap bounds the live heap of the test process, which runs the
// load: what it holds is a few latencies per request, and the heap far
// beyond that (Baton's access log kept in memory: 300-650 MB) made each
// of its garbage collections stall the load's goroutines, which the soak
// then reported as Baton's latency.
const maxLoadHeap = 64 * mib

// liveHeap is the heap found live by a garbage collection run now (the
// load has stopped, so it stalls nothing).
func liveHeap() float64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return float64(s[0].Value.Uint64())
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("BATON_SOAK")
	if v == "" {
		t.Skip("set BATON_SOAK to a duration (e.g. 60s) to run the soak")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("BATON_SOAK=%q: %v", v, err)
	}
	if d < soakWarmup+2*soakWindow {
		t.Fatalf("BATON_SOAK=%v: need at least %v (warm-up plus two memory windows)", d, soakWarmup+2*soakWindow)
	}
	return d
}

type soakResult struct {
	load                      *timedLoad
	slice                     *sliceChurn
	ingress                   *ingressChurn
	stepErrors                []string
	stalls                    *stallWatch
	batonMax                  time.Duration // the longest request in Baton's access log
	loadHeap                  float64       // the test process's live heap after the soak, bytes
	snapshots, snapshotErrors float64
}

// runSoak drives load, slice churn, Ingress churn and memory sampling for d.
func runSoak(d time.Duration, addr, ns string, pods []*framework.Pod, mon *memMonitor) *soakResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	res := &soakResult{slice: newSliceChurn(ns, "web", pods, start), ingress: &ingressChurn{ns: ns, name: "web"}}
	res.load = startTimedLoad(ctx, addr, soakHost, soakWorkers, start)
	res.stalls = watchStalls(ctx, start)
	steps := &periodic{ctx: ctx}
	steps.every(sliceInterval, "endpointslice", res.slice.step)
	steps.every(ingressInterval, "ingress", res.ingress.step)
	steps.every(time.Second, "memory", func() error { return mon.record(time.Since(start)) })
	res.stepErrors = steps.wait()
	res.load.wait()
	return res
}

// periodic runs steps on tickers until ctx ends. A step slower than its
// interval delays the next one instead of piling up, so the counts
// reported are the changes actually made.
type periodic struct {
	ctx  context.Context
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []string
}

func (p *periodic) every(interval time.Duration, name string, step func() error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-tick.C:
			}
			if err := step(); err != nil {
				p.mu.Lock()
				p.errs = append(p.errs, name+": "+err.Error())
				p.mu.Unlock()
			}
		}
	}()
}

func (p *periodic) wait() []string {
	p.wg.Wait()
	return p.errs
}

func (r *soakResult) report(t *testing.T, d time.Duration, mon *memMonitor) {
	lat := r.load.latencies()
	before, after := mon.windows()
	fmt.Printf("soak: duration=%v workers=%d sent=%d failed=%d rps=%.0f p50=%v p99=%v max=%v baton_max=%v load_stall_max=%v load_heap=%.1fMiB "+
		"rss_before=%.1fMiB rss_after=%.1fMiB heap_before=%.1fMiB heap_after=%.1fMiB goroutines=%.0f→%.0f "+
		"slice_updates=%d ingress_updates=%d snapshots=%.0f snapshot_errors=%.0f\n",
		d, soakWorkers, r.load.sent.Load(), r.load.failed.Load(), float64(r.load.sent.Load())/d.Seconds(),
		percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1),
		r.batonMax.Round(10*time.Microsecond), r.stalls.longest().Round(time.Millisecond), r.loadHeap/mib,
		before.rss/mib, after.rss/mib, before.heap/mib, after.heap/mib, before.goroutines, after.goroutines,
		r.slice.updates, r.ingress.updates, r.snapshots, r.snapshotErrors)
	t.Logf("requests by pod: %v", r.load.byPod())
	r.reportSlow(t)
}

// reportSlow lists the requests slower than slowRequest with the slice
// changes made shortly before and during each, so that a latency spike
// can be tied to the endpoint that came or went.
func (r *soakResult) reportSlow(t *testing.T) {
	slow := r.load.slowRequests()
	t.Logf("soak started at %s; %d requests took longer than %v", r.slice.start.UTC().Format(time.RFC3339Nano), len(slow), slowRequest)
	t.Logf("the load's own process was not scheduled for %v or longer at: %s", stallGap, r.stalls.String())
	for _, s := range slow[:min(len(slow), 40)] {
		t.Logf("slow: %s; slice changes from 1s before: %s", s, r.slice.changesAround(s.at-time.Second, s.at+s.took))
	}
}

func (r *soakResult) check(t *testing.T, pods []*framework.Pod) {
	if f := r.load.failed.Load(); f != 0 {
		t.Errorf("%d of %d requests failed: %s", f, r.load.sent.Load(), strings.Join(r.load.failureKinds(), "; "))
	}
	if r.load.sent.Load() == 0 {
		t.Error("the load sent no requests")
	}
	if len(r.stepErrors) > 0 {
		t.Errorf("%d API writes failed, first: %v", len(r.stepErrors), r.stepErrors[:min(5, len(r.stepErrors))])
	}
	if r.snapshotErrors != 0 {
		t.Errorf("the data plane refused %.0f snapshots", r.snapshotErrors)
	}
	r.checkEveryPodServed(t, pods)
	if r.loadHeap > float64(maxLoadHeap) {
		t.Errorf("the load's own process holds %.0f MiB of live heap (limit %.0f MiB): its garbage collections stall the load, "+
			"and the soak would report them as Baton's latency", r.loadHeap/mib, float64(maxLoadHeap)/mib)
	}
}

// checkEveryPodServed: churned endpoints are ready about 40% of the time,
// so each must have been put back into rotation and served.
func (r *soakResult) checkEveryPodServed(t *testing.T, pods []*framework.Pod) {
	served := r.load.byPod()
	for _, p := range pods {
		if served[p.Name] == 0 {
			t.Errorf("%s served no request during the soak: %v", p.Name, served)
		}
	}
}

// endpointCycle is what a churned endpoint goes through, one state per
// change: flapping readiness, then graceful termination, then removal, all
// while its backend process keeps running.
var endpointCycle = []string{"ready", "not-ready", "ready", "terminating", "absent"}

// stallGap is how late the stall watch's tick must be to count: the
// soak's own process (its load included) did not run for that long, so
// requests it timed across such a gap were slow on the client's side.
const stallGap = 50 * time.Millisecond

// stallWatch records when the test process itself was descheduled.
type stallWatch struct {
	mu     sync.Mutex
	stalls []string
	max    time.Duration
}

func watchStalls(ctx context.Context, start time.Time) *stallWatch {
	w := &stallWatch{}
	go func() {
		const tick = 5 * time.Millisecond
		last := time.Now()
		for ctx.Err() == nil {
			time.Sleep(tick)
			now := time.Now()
			if late := now.Sub(last) - tick; late >= stallGap {
				w.mu.Lock()
				w.stalls = append(w.stalls, fmt.Sprintf("%v for %v", last.Sub(start).Round(time.Millisecond), late.Round(time.Millisecond)))
				w.max = max(w.max, late)
				w.mu.Unlock()
			}
			last = now
		}
	}()
	return w
}

func (w *stallWatch) longest() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

func (w *stallWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.stalls, ", ")
}

// sliceChurn rewrites the EndpointSlice; pods[0] stays ready throughout.
type sliceChurn struct {
	ns, name string
	pods     []*framework.Pod
	state    []int // index into endpointCycle per pod
	tick     int
	updates  int
	start    time.Time
	changes  []sliceChange
}

// sliceChange is one endpoint's new state, as written to the API.
type sliceChange struct {
	at    time.Duration // since the soak started, when the update returned
	pod   string
	state string
}

func newSliceChurn(ns, svc string, pods []*framework.Pod, start time.Time) *sliceChurn {
	return &sliceChurn{ns: ns, name: svc + "-1", pods: pods, state: make([]int, len(pods)), start: start}
}

// changesAround lists the changes made between from and to.
func (c *sliceChurn) changesAround(from, to time.Duration) string {
	var out []string
	for _, ch := range c.changes {
		if ch.at >= from && ch.at <= to {
			out = append(out, fmt.Sprintf("%v %s→%s", ch.at.Round(time.Millisecond), ch.pod, ch.state))
		}
	}
	return strings.Join(out, ", ")
}

func (c *sliceChurn) step() error {
	j := 1 + c.tick%(len(c.pods)-1)
	c.tick++
	c.state[j] = (c.state[j] + 1) % len(endpointCycle)
	endpoints := c.endpoints()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var s discoveryv1.EndpointSlice
		if err := cp.Client.Get(context.Background(), keyOf(c.ns, c.name), &s); err != nil {
			return err
		}
		s.Endpoints = endpoints
		return cp.Client.Update(context.Background(), &s)
	})
	if err == nil {
		c.updates++
		c.changes = append(c.changes, sliceChange{at: time.Since(c.start), pod: c.pods[j].Name, state: endpointCycle[c.state[j]]})
	}
	return err
}

func (c *sliceChurn) endpoints() []discoveryv1.Endpoint {
	var eps []discoveryv1.Endpoint
	for i, p := range c.pods {
		state := endpointCycle[c.state[i]]
		if state == "absent" {
			continue
		}
		ready, serving, terminating := state == "ready", state != "not-ready", state == "terminating"
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{p.IP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating}})
	}
	return eps
}

// ingressChurn adds and removes a second rule (another host, a new path
// each time) and bumps an annotation; the load's rule stays first and
// unchanged.
type ingressChurn struct {
	ns, name string
	n        int
	added    []string // paths of the extra rule, in the order they were added
	present  bool
	updates  int
}

func (c *ingressChurn) step() error {
	c.n++
	want, path := !c.present, "/extra-"+strconv.Itoa(c.n)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var ing networkingv1.Ingress
		if err := cp.Client.Get(context.Background(), keyOf(c.ns, c.name), &ing); err != nil {
			return err
		}
		ing.Spec.Rules = ing.Spec.Rules[:1]
		if want {
			extra := ingress(c.ns, c.name, "soak", rule{soakExtraHost, path, "web"})
			ing.Spec.Rules = append(ing.Spec.Rules, extra.Spec.Rules...)
		}
		if ing.Annotations == nil {
			ing.Annotations = map[string]string{}
		}
		ing.Annotations["soak.baton.dev/step"] = strconv.Itoa(c.n)
		return cp.Client.Update(context.Background(), &ing)
	})
	if err != nil {
		return err
	}
	c.updates++
	if c.present = want; want {
		c.added = append(c.added, path)
	}
	return nil
}

// finalCheck adds the extra rule once more and waits until the newest path
// routes and the one before it (removed since) no longer does.
func (c *ingressChurn) finalCheck(t *testing.T, addr string) {
	if !c.present {
		if err := c.step(); err != nil {
			t.Fatal(err)
		}
	}
	newest := c.added[len(c.added)-1]
	eventually(t, 30*time.Second, func() error {
		if err := statusIs(addr, soakExtraHost, newest, http.StatusOK); err != nil {
			return err
		}
		if len(c.added) < 2 {
			return nil
		}
		return statusIs(addr, soakExtraHost, c.added[len(c.added)-2], http.StatusNotFound)
	})
}

func statusIs(addr, host, path string, want int) error {
	status, _, _, err := get(addr, host, path)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s%s: status %d, want %d", host, path, status, want)
	}
	return nil
}

// timedLoad is a closed-loop load: each worker sends its next request when
// the previous one is answered, over its own keep-alive connection.
type timedLoad struct {
	sent, failed atomic.Int64
	lat          [][]time.Duration // per worker: no lock on the hot path
	pods         []map[string]int64
	mu           sync.Mutex
	failures     []string
	slow         []slowRequestRecord
	wg           sync.WaitGroup
}

// slowRequest is the latency from which a request is listed with what
// happened around it.
const slowRequest = 100 * time.Millisecond

// slowRequestRecord is one request that took at least slowRequest.
type slowRequestRecord struct {
	at, took time.Duration // start, since the soak started; latency
	worker   int
	pod      string
	dialed   bool // the request opened a new connection to Baton first
	err      error
}

func (s slowRequestRecord) String() string {
	return fmt.Sprintf("at %v took %v worker %d pod %q dialed %v err %v",
		s.at.Round(time.Millisecond), s.took.Round(time.Millisecond), s.worker, s.pod, s.dialed, s.err)
}

func startTimedLoad(ctx context.Context, addr, host string, workers int, start time.Time) *timedLoad {
	l := &timedLoad{lat: make([][]time.Duration, workers), pods: make([]map[string]int64, workers)}
	for i := range workers {
		l.pods[i] = map[string]int64{}
		l.wg.Add(1)
		go l.worker(ctx, i, addr, host, start)
	}
	return l
}

// worker keeps one connection alive and never retries (http.Client
// resends idempotent requests by itself, which would hide failures).
func (l *timedLoad) worker(ctx context.Context, i int, addr, host string, start time.Time) {
	defer l.wg.Done()
	c := framework.NewKeepAliveClient(addr, 10*time.Second)
	defer c.Close()
	for ctx.Err() == nil {
		// The request does not carry ctx: the end of the soak must not
		// cancel a request and count it as failed.
		t0, dialed := time.Now(), !c.Connected()
		status, pod, err := c.Get(host, "/load")
		took := time.Since(t0)
		l.lat[i] = append(l.lat[i], took)
		l.sent.Add(1)
		if took >= slowRequest {
			l.mu.Lock()
			l.slow = append(l.slow, slowRequestRecord{at: t0.Sub(start), took: took, worker: i, pod: pod, dialed: dialed, err: err})
			l.mu.Unlock()
		}
		if err != nil || status < 200 || status > 299 {
			l.failed.Add(1)
			l.mu.Lock()
			l.failures = append(l.failures, fmt.Sprintf("at %v: status %d err %v", t0.Sub(start).Round(time.Millisecond), status, err))
			l.mu.Unlock()
			continue
		}
		l.pods[i][pod]++
	}
}

func (l *timedLoad) wait() { l.wg.Wait() }

// slowRequests returns the slow requests, slowest first.
func (l *timedLoad) slowRequests() []slowRequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.slow)
	slices.SortFunc(out, func(a, b slowRequestRecord) int { return int(b.took - a.took) })
	return out
}

func (l *timedLoad) latencies() []time.Duration {
	var all []time.Duration
	for _, w := range l.lat {
		all = append(all, w...)
	}
	slices.Sort(all)
	return all
}

func (l *timedLoad) byPod() map[string]int64 {
	total := map[string]int64{}
	for _, w := range l.pods {
		for pod, n := range w {
			total[pod] += n
		}
	}
	return total
}

// failureKinds counts failures by message without the request URL, and
// keeps when each kind was first seen.
func (l *timedLoad) failureKinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts, first := map[string]int{}, map[string]string{}
	var kinds []string
	for _, f := range l.failures {
		at, msg, _ := strings.Cut(f, ": ")
		if i := strings.Index(msg, `"http://`); i >= 0 {
			if j := strings.Index(msg[i+1:], `"`); j >= 0 {
				msg = msg[:i] + msg[i+j+2:]
			}
		}
		if counts[msg]++; counts[msg] == 1 {
			kinds, first[msg] = append(kinds, msg), at
		}
	}
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%d× %s (first %s)", counts[k], k, first[k]))
	}
	return out
}

// percentile of sorted latencies, nearest rank; p=1 is the maximum.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))].Round(10 * time.Microsecond)
}

func counterDelta(before, after framework.Metrics, series string) float64 {
	a, _ := after.Value(series)
	b, _ := before.Value(series)
	return a - b
}

// memSample is Baton's memory at one moment of the soak.
type memSample struct {
	at                    time.Duration
	rss, heap, goroutines float64
}

// memMonitor samples Baton's RSS (from /proc) and Go heap and goroutines
// (from its metrics endpoint) once a second.
type memMonitor struct {
	pid     int
	addr    string
	samples []memSample
}

func (m *memMonitor) scrape(t *testing.T) framework.Metrics {
	t.Helper()
	metrics, err := framework.ScrapeMetrics(m.addr)
	if err != nil {
		t.Fatalf("scrape Baton's metrics: %v", err)
	}
	return metrics
}

func (m *memMonitor) record(at time.Duration) error {
	rss, err := framework.ProcessRSS(m.pid)
	if err != nil {
		return err
	}
	metrics, err := framework.ScrapeMetrics(m.addr)
	if err != nil {
		return err
	}
	heap, ok1 := metrics.Value("go_memstats_heap_inuse_bytes")
	goroutines, ok2 := metrics.Value("go_goroutines")
	if !ok1 || !ok2 {
		return fmt.Errorf("metrics lack go_memstats_heap_inuse_bytes or go_goroutines")
	}
	m.samples = append(m.samples, memSample{at: at, rss: float64(rss), heap: heap, goroutines: goroutines})
	return nil
}

// windows returns the minimum of each figure over the first window after
// the warm-up and over the last window. The minimum is what survives the
// garbage collector (heap in use swings up to GOGC=100% above the live heap
// between collections), so comparing minima compares live memory rather
// than where each sample happened to fall in the GC cycle.
func (m *memMonitor) windows() (before, after memSample) {
	if len(m.samples) == 0 {
		return
	}
	end := m.samples[len(m.samples)-1].at
	before = windowMin(m.samples, soakWarmup, soakWarmup+soakWindow)
	after = windowMin(m.samples, end-soakWindow, end+time.Second)
	return before, after
}

func windowMin(samples []memSample, from, to time.Duration) memSample {
	out := memSample{rss: math.Inf(1), heap: math.Inf(1), goroutines: math.Inf(1)}
	for _, s := range samples {
		if s.at >= from && s.at < to {
			out.rss, out.heap, out.goroutines = min(out.rss, s.rss), min(out.heap, s.heap), min(out.goroutines, s.goroutines)
		}
	}
	return out
}

// checkGrowth fails on memory that grows with the number of changes.
//
// The load is the same in both windows (16 client connections, the same
// four backends), so goroutines must come back to the same count: a
// goroutine leaked per snapshot or per slice update would add hundreds in
// a minute, while a few upstream connections more or fewer (two goroutines
// each) stay well inside the margin of 32.
//
// Heap in use is compared minimum to minimum; the bound (+50% and 16 MiB)
// is generous because the Go runtime's heap moves with allocation rate
// and scavenging. Keeping every snapshot (≈10 per second here) or every
// request's buffers would exceed it within a minute; a small per-change
// leak will not, and this check does not claim to find one.
func (m *memMonitor) checkGrowth(t *testing.T) {
	before, after := m.windows()
	if math.IsInf(before.heap, 1) || math.IsInf(after.heap, 1) {
		t.Fatalf("no memory samples in the windows: %d samples", len(m.samples))
	}
	if after.goroutines > before.goroutines+32 {
		t.Errorf("goroutines grew from %.0f to %.0f under the same load", before.goroutines, after.goroutines)
	}
	if limit := before.heap*1.5 + 16*mib; after.heap > limit {
		t.Errorf("heap in use grew from %.1f MiB to %.1f MiB (limit %.1f MiB)", before.heap/mib, after.heap/mib, limit/mib)
	}
	// RSS includes what the runtime has not yet returned to the kernel,
	// so it lags the heap; same idea, looser bound.
	if limit := before.rss*1.5 + 32*mib; after.rss > limit {
		t.Errorf("RSS grew from %.1f MiB to %.1f MiB (limit %.1f MiB)", before.rss/mib, after.rss/mib, limit/mib)
	}
	samples := make([]string, 0, len(m.samples))
	for _, s := range m.samples {
		samples = append(samples, fmt.Sprintf("%v:%.1f/%.0f", s.at.Round(time.Second), s.heap/mib, s.goroutines))
	}
	t.Logf("heap MiB / goroutines per second: %s", strings.Join(samples, " "))
}
