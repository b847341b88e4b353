package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/baton-dev/baton/pkg/dataplane"
)

// readiness is what /readyz reports: ready from the moment this process
// serves traffic until it starts to drain or hands its listeners over.
type readiness struct {
	serving  atomic.Bool
	draining atomic.Bool
}

func (r *readiness) check() error {
	switch {
	case r.draining.Load():
		return errors.New("draining: the listeners were handed over or a shutdown began")
	case !r.serving.Load():
		return errors.New("first snapshot not applied or listeners not open yet")
	}
	return nil
}

// adminHandler serves the probes and metrics, and with profiling Go's
// pprof profiles. They are served by the data plane, not by
// controller-runtime, so that their sockets go through the listener
// handoff with the others.
func adminHandler(ready *readiness, profiling bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready.check(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	if profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index) // every named profile: heap, allocs, goroutine...
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func adminListeners(cfg *config) []dataplane.AdminListener {
	var out []dataplane.AdminListener
	if enabled(cfg.probeAddr) {
		out = append(out, dataplane.AdminListener{Name: "probe", Addr: cfg.probeAddr})
	}
	if enabled(cfg.metricsAddr) {
		out = append(out, dataplane.AdminListener{Name: "metrics", Addr: cfg.metricsAddr})
	}
	return out
}

func enabled(addr string) bool { return addr != "" && addr != "0" }

// serveProbeSocket answers probes of this process alone on a Unix socket.
// Processes that share the node's ports (hostNetwork) cannot tell, over
// TCP, which of them answered; kubelet's exec probe (`baton probe`) asks
// this socket in the pod's own volume instead.
func serveProbeSocket(path string, h http.Handler) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale probe socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("probe socket: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() { _ = srv.Close() }, nil
}

// probeMain is `baton probe --socket PATH [--path /readyz]`: exit 0 when the
// process behind the socket answers 200, 1 otherwise.
func probeMain(args []string) int {
	socket, path, err := parseProbeFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baton probe:", err)
		return 2
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := client.Get("http://baton" + path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baton probe:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("%s %s", resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
