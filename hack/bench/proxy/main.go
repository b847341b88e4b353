// Command proxy runs Baton's data plane alone, with one catch-all route to a
// fixed backend, so that make bench can compare the proxy itself with nginx
// and HAProxy under identical conditions (no Kubernetes involved).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane"
	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to serve on")
	listenTLS := flag.String("listen-tls", "", "address to serve TLS on (HTTP/1.1 and h2 by ALPN); needs -tls-cert and -tls-key")
	certFile := flag.String("tls-cert", "", "PEM certificate chain for -listen-tls")
	keyFile := flag.String("tls-key", "", "PEM key for -listen-tls")
	backend := flag.String("backend", "127.0.0.1:18000", "backend address (ip:port)")
	socket := flag.String("handoff-socket", "", "take listeners from / offer them to another instance")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until the process stops")
	accessLogPath := flag.String("access-log", "", "write a JSON access log to this file; none when empty")
	memProfile := flag.String("memprofile", "", "record every allocation and write the allocation profile here when the process stops")
	mallocsAddr := flag.String("mallocs-addr", "", "serve the process's heap allocation count (runtime.MemStats.Mallocs) on this address, for allocations per request")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}

	if *memProfile != "" {
		runtime.MemProfileRate = 1
		defer writeAllocs(*memProfile)
	}
	if *mallocsAddr != "" {
		go serveMallocs(*mallocsAddr)
	}
	dp := dataplane.New(dataplane.Options{HTTPAddr: *listen, HTTPSAddr: *listenTLS, HandoffSocket: *socket, GracePeriod: 10 * time.Second,
		Logger: logger, AccessLog: openAccessLog(*accessLogPath, logger)})
	snap := &snapshot.Snapshot{
		Version:   1,
		Hosts:     []snapshot.VirtualHost{{Name: "", Routes: []snapshot.Route{{Path: "/", Upstream: "bench", Source: "bench/bench"}}}},
		Upstreams: []snapshot.Upstream{{Name: "bench", Endpoints: []snapshot.Endpoint{{Address: *backend}}, Policy: snapshot.PolicyRoundRobin, Protocol: snapshot.ProtocolHTTP1}},
	}
	if *listenTLS != "" {
		snap.DefaultCertificate = readCertificate(*certFile, *keyFile)
	}
	if err := dp.Apply(snap); err != nil {
		log.Fatal(err)
	}
	// SIGTERM drains, SIGINT stops at once, a successor's takeover drains.
	if err := dp.Run(context.Background(), dataplane.RunOptions{}); err != nil {
		log.Fatal(err)
	}
}

func openAccessLog(path string, logger *slog.Logger) *accesslog.Logger {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	return accesslog.New(f, accesslog.Options{Logger: logger})
}

func readCertificate(certFile, keyFile string) *snapshot.Certificate {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		log.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		log.Fatal(err)
	}
	return &snapshot.Certificate{Hosts: []string{"*"}, CertPEM: cert, KeyPEM: key, Source: "bench/bench"}
}

// serveMallocs answers every request with the number of heap objects
// allocated so far: the bench reads it before and after a run.
func serveMallocs(addr string) {
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintln(w, m.Mallocs)
	}))
	log.Fatal(err)
}

func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}
