package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/nettest"
)

// hostPort is the "ip:port" of a test server, as the lb passes addresses.
func hostPort(s *httptest.Server) string { return s.Listener.Addr().String() }

func TestProbeStatus(t *testing.T) {
	tests := []struct {
		status  int
		healthy bool
	}{
		{200, true}, {204, true}, {301, true}, {399, true},
		{400, false}, {418, false}, {404, false}, {500, false}, {503, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			err := Probe(context.Background(), NewClient(), hostPort(srv), Config{})
			if (err == nil) != tt.healthy {
				t.Fatalf("Probe() = %v, want healthy=%v", err, tt.healthy)
			}
		})
	}
}

func TestProbeSendsPathAndHost(t *testing.T) {
	var gotPath, gotHost, gotUA atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.RequestURI())
		gotHost.Store(r.Host)
		gotUA.Store(r.UserAgent())
	}))
	defer srv.Close()
	cfg := Config{Path: "/healthz?deep=1", Host: "app.example.com"}
	if err := Probe(context.Background(), NewClient(), hostPort(srv), cfg); err != nil {
		t.Fatal(err)
	}
	if gotPath.Load() != "/healthz?deep=1" || gotHost.Load() != "app.example.com" || gotUA.Load() != "baton-health-check" {
		t.Fatalf("server saw path=%v host=%v ua=%v", gotPath.Load(), gotHost.Load(), gotUA.Load())
	}
}

func TestProbeDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/broken", http.StatusFound)
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		followed.Store(true)
		w.WriteHeader(http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if err := Probe(context.Background(), NewClient(), hostPort(srv), Config{Path: "/healthz"}); err != nil {
		t.Fatalf("a 302 should be healthy: %v", err)
	}
	if followed.Load() {
		t.Fatal("the probe followed the redirect")
	}
}

func TestProbeHTTPSWithoutVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	if err := Probe(context.Background(), NewClient(), hostPort(srv), Config{Protocol: HTTPS}); err != nil {
		t.Fatal(err)
	}
	if err := Probe(context.Background(), NewClient(), hostPort(srv), Config{}); err == nil {
		t.Fatal("plain HTTP to a TLS server should fail")
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	addr := nettest.RefusedAddr(t)
	if err := Probe(context.Background(), NewClient(), addr, Config{}); err == nil {
		t.Fatal("Probe of a closed port succeeded")
	}
}

func TestProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	err := Probe(context.Background(), NewClient(), hostPort(srv), Config{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "deadline")) {
		t.Fatalf("Probe() = %v, want a deadline error", err)
	}
}
