// Command scale measures Baton at scale against a real kube-apiserver
// (hack/bench/scale.sh runs it; needs root for the two backend pods): for
// each size it loads N Ingresses (two paths each), N/10 Services with a
// slice of 50 endpoints, starts the Baton binary, and measures start to
// ready, then for each kind of change the time from the API write
// returning to the first response through the proxy that shows it,
// polling as a user would. Then EndpointSlice churn (100 changes/s) under
// load, and the same churn of slices Baton does not watch (the machine's
// share of the latency). Then 1,000 changes of the kinds in turn, with Baton's memory
// every 250. It prints the tables.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

func main() {
	sizes := flag.String("ingresses", "1000,10000", "comma-separated numbers of Ingresses, one run each")
	changes := flag.Int("changes", 30, "measured changes of each kind")
	churn := flag.Duration("churn", 30*time.Second, "length of the EndpointSlice churn phase")
	steady := flag.Int("steady", 1000, "changes of the steady phase, which reads Baton's memory every quarter of them")
	profiles := flag.String("profiles", os.TempDir(), "directory for the heap profiles of the steady phase (one subdirectory per size)")
	baton := flag.String("baton", "", "the Baton binary")
	root := flag.String("root", ".", "the repository (bin/ holds kube-apiserver, etcd and baton-e2e-backend)")
	env := flag.String("baton-env", "", "space-separated NAME=value pairs for Baton's environment only, e.g. GODEBUG=gctrace=1 (its log is kept in the profiles directory)")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	if err := run(*sizes, settings{*changes, *steady, *churn, *baton, *root, *profiles, strings.Fields(*env)}); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// settings are the flags every size's run shares.
type settings struct {
	changes, steady   int
	churn             time.Duration
	baton, root, prof string
	env               []string // Baton's extra environment
}

func run(sizes string, s settings) error {
	var err error
	if s.root, err = filepath.Abs(s.root); err != nil {
		return err
	}
	if err := framework.RequireRoot(); err != nil {
		return err
	}
	release, err := framework.ClaimPodNetwork()
	if err != nil {
		return err
	}
	defer release()
	var rows []row
	for _, size := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(size))
		if err != nil {
			return fmt.Errorf("-ingresses: %w", err)
		}
		r, err := measure(n, s)
		if err != nil {
			return fmt.Errorf("%d Ingresses: %w", n, err)
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "scale: %d Ingresses done\n", n)
	}
	printTable(rows)
	printSteadyTable(rows)
	return nil
}

// row is one size's results.
type row struct {
	ingresses    int
	load, ready  time.Duration
	buildMs      float64 // mean build time per rebuild, from the metric
	kinds        map[string][]time.Duration
	statusWrites float64 // status patches per measured change
	rssReady     int64
	rssAfter     int64 // after every change and the churn
	churn        churnResult
	changesTotal int
	steady       []memPoint // memory along the steady phase
}

func measure(n int, s settings) (row, error) {
	r := row{ingresses: n, kinds: map[string][]time.Duration{}}
	cp, err := framework.StartControlPlane(s.root)
	if err != nil {
		return r, err
	}
	defer cp.Stop()
	w, err := newWorld(cp, s.root)
	if err != nil {
		return r, err
	}
	defer w.close()
	start := time.Now()
	if err := w.load(n); err != nil {
		return r, err
	}
	r.load = time.Since(start)
	if err := w.probes(); err != nil {
		return r, err
	}
	dir := filepath.Join(s.prof, strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	binary, err := withEnv(s.baton, s.env, dir)
	if err != nil {
		return r, err
	}
	start = time.Now()
	b, err := framework.StartBaton(framework.BatonOptions{Binary: binary, Kubeconfig: cp.Kubeconfig,
		Args: []string{"--ingress-class", className, "--publish-status-address", "192.0.2.1", "--profiling"}})
	if err != nil {
		return r, err
	}
	defer b.Kill()
	defer keepLog(b, start, dir)
	r.ready = time.Since(start)
	r.rssReady, _ = framework.ProcessRSS(b.PID())
	p := newPoller(b)
	if err := p.settle(w); err != nil {
		return r, err
	}
	before, err := framework.ScrapeMetrics(b.MetricsAddr)
	if err != nil {
		return r, err
	}
	for _, k := range kinds {
		for i := range s.changes {
			d, err := k.measure(w, p, i)
			if err != nil {
				return r, fmt.Errorf("%s #%d: %w", k.name, i, err)
			}
			r.kinds[k.name] = append(r.kinds[k.name], d)
			r.changesTotal++
		}
	}
	after, err := framework.ScrapeMetrics(b.MetricsAddr)
	if err != nil {
		return r, err
	}
	r.buildMs = meanMs(before, after, "baton_snapshot_build_seconds")
	r.statusWrites = (sum(after, "baton_status_writes_total") - sum(before, "baton_status_writes_total")) / float64(r.changesTotal)
	if r.steady, err = runSteady(w, p, b, s.steady, max(s.steady/4, 1), dir); err != nil {
		return r, err
	}
	if r.churn, err = runChurn(w, p, b, s.churn, dir); err != nil {
		return r, err
	}
	r.churn.gcDuring, r.churn.slow, r.churn.slowInGC = gcShare(r.churn.trace, gcCycles(b.Logs(), start))
	r.rssAfter, _ = framework.ProcessRSS(b.PID())
	return r, nil
}

// withEnv returns binary itself, or with extra environment a script in
// dir that execs it with env added (same process, so the PID is Baton's).
func withEnv(binary string, env []string, dir string) (string, error) {
	if len(env) == 0 {
		return binary, nil
	}
	script := filepath.Join(dir, "baton-env.sh")
	body := fmt.Sprintf("#!/bin/sh\nexec env %s %s \"$@\"\n", strings.Join(env, " "), binary)
	return script, os.WriteFile(script, []byte(body), 0o755) //nolint:gosec // a script to run
}

// keepLog writes Baton's log (with GODEBUG=gctrace=1, its collections,
// timed from the process start) to dir/baton.log, and when it started as
// Unix nanoseconds to dir/baton.start, to line them up with churn.tsv.
func keepLog(b *framework.Baton, start time.Time, dir string) {
	_ = os.WriteFile(filepath.Join(dir, "baton.log"), []byte(b.Logs()), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "baton.start"), []byte(strconv.FormatInt(start.UnixNano(), 10)+"\n"), 0o644)
}

// gcCell says how many of the churn's slowest requests met a collection,
// when Baton ran with GODEBUG=gctrace=1.
func gcCell(c churnResult) string {
	if c.gcDuring == 0 {
		return ""
	}
	return fmt.Sprintf("; %d GC cycles, %d of the %d requests at or above p99 started in one", c.gcDuring, c.slowInGC, c.slow)
}

// meanMs is the mean of a histogram's observations between two scrapes.
func meanMs(before, after framework.Metrics, name string) float64 {
	s := sum(after, name+"_sum") - sum(before, name+"_sum")
	c := sum(after, name+"_count") - sum(before, name+"_count")
	if c == 0 {
		return 0
	}
	return s / c * 1000
}

// sum adds every series of the metric name, whatever its labels.
func sum(m framework.Metrics, name string) float64 {
	total := 0.0
	for series, v := range m {
		if series == name || strings.HasPrefix(series, name+"{") {
			total += v
		}
	}
	return total
}

func printTable(rows []row) {
	fmt.Println("| Ingresses | load | start→ready | build per change | " + strings.Join(kindNames(), " | ") +
		" | status writes per change | RSS ready → after | RSS (heap) churn start → end | churn 100/s: proxy p99 idle → churn, failed, marker lag max |")
	fmt.Println("|" + strings.Repeat(" --- |", 8+len(kinds)))
	for _, r := range rows {
		cells := []string{strconv.Itoa(r.ingresses), r.load.Round(100 * time.Millisecond).String(),
			r.ready.Round(10 * time.Millisecond).String(), fmt.Sprintf("%.2f ms", r.buildMs)}
		for _, k := range kindNames() {
			cells = append(cells, fmt.Sprintf("%s / %s", ms(pct(r.kinds[k], 50)), ms(pct(r.kinds[k], 99))))
		}
		cells = append(cells, fmt.Sprintf("%.2f", r.statusWrites),
			fmt.Sprintf("%d → %d MiB", r.rssReady>>20, r.rssAfter>>20),
			fmt.Sprintf("%d (%.0f) → %d (%.0f) MiB", r.churn.rssStart>>20, r.churn.heapStart/(1<<20), r.churn.rssEnd>>20, r.churn.heapEnd/(1<<20)),
			fmt.Sprintf("%s → %s (unwatched churn %s; straight to a backend %s → %s), %d of %d, %s (%d changes, %.0f rebuilds, Baton %.2f cores)",
				ms(r.churn.idleP99), ms(r.churn.churnP99), ms(r.churn.unwatched), ms(r.churn.directIdle), ms(r.churn.directChurn),
				r.churn.failed, r.churn.requests, ms(r.churn.markerMax), r.churn.changes, r.churn.rebuilds, r.churn.cpu)+gcCell(r.churn))
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	fmt.Println("Propagation cells are p50 / p99 from the API write returning to the first response through the proxy that shows the change.")
}

// printSteadyTable shows each size's memory along the steady phase.
func printSteadyTable(rows []row) {
	if len(rows) == 0 || len(rows[0].steady) == 0 {
		return
	}
	header, rule := "| Ingresses: RSS / heap in use / after GC: in use, live (MiB); request series |", "| --- |"
	for _, pt := range rows[0].steady {
		header += fmt.Sprintf(" %d changes |", pt.changes)
		rule += " --- |"
	}
	fmt.Println(header)
	fmt.Println(rule)
	for _, r := range rows {
		line := fmt.Sprintf("| %d |", r.ingresses)
		for _, pt := range r.steady {
			line += fmt.Sprintf(" %d / %.0f / %.0f, %.0f; %d |", pt.rss>>20, pt.heapInuse/(1<<20), pt.heapInuseGC/(1<<20), pt.heapLive/(1<<20), pt.series)
		}
		fmt.Println(line)
	}
}

func kindNames() []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.name)
	}
	return out
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	i := (len(ds)*p+99)/100 - 1
	return ds[max(i, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// handshakeSerial is the serial of the certificate the proxy serves for sni.
func handshakeSerial(addr, sni string) (string, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // only the serial is read
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

var background = context.Background()
