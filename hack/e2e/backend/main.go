// Command backend is the demo and end-to-end test backend: a real process,
// started inside a network namespace "pod", that tells who answered.
//
//	GET /anything    -> 200, JSON with pod name, method, host, path, headers
//	GET /healthz     -> 200 "ok" (503 after /fail-health)
//	GET /stream?n=N  -> N chunks, one every 100ms (long streaming responses)
//	GET /status/NNN  -> that status code
//	GET /delay/MS    -> the /anything answer, after MS milliseconds
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	name := flag.String("name", hostname(), "name reported in responses")
	flag.Parse()
	var unhealthy atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if unhealthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/fail-health", func(w http.ResponseWriter, r *http.Request) { unhealthy.Store(true) })
	mux.HandleFunc("/stream", stream(*name))
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 100 || code > 599 {
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/delay/", delayed(echo(*name)))
	mux.HandleFunc("/", echo(*name))
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("backend %s listening on %s", *name, *listen)
	log.Fatal(srv.ListenAndServe())
}

type reply struct {
	Pod     string              `json:"pod"`
	Method  string              `json:"method"`
	Host    string              `json:"host"`
	Path    string              `json:"path"`
	Proto   string              `json:"proto"`
	Headers map[string][]string `json:"headers"`
}

func echo(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Pod", name)
		_ = json.NewEncoder(w).Encode(reply{Pod: name, Method: r.Method, Host: r.Host,
			Path: r.URL.RequestURI(), Proto: r.Proto, Headers: r.Header})
	}
}

// delayed answers late, before any header, as a slow backend does.
func delayed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/delay/"))
		if err != nil || ms < 0 || ms > 60000 {
			http.Error(w, "bad delay", http.StatusBadRequest)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Duration(ms) * time.Millisecond):
		}
		next(w, r)
	}
}

func stream(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n <= 0 || n > 600 {
			n = 10
		}
		w.Header().Set("X-Pod", name)
		flusher, _ := w.(http.Flusher)
		for i := 0; i < n; i++ {
			fmt.Fprintf(w, "chunk %d from %s\n", i, name)
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		fmt.Fprintln(w, "done")
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
