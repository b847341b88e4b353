package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/logtest"
)

// safety bounds waits that only a broken server would reach.
const safety = 10 * time.Second

// hello answers with its name and the protocol the client spoke.
func hello(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.Proto)
	})
}

func start(t *testing.T, opts server.Options, svc server.Service) *server.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = logtest.Logger(t)
	}
	s := server.New(opts, svc)
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func cleartext(name string, h http.Handler) server.Service {
	return server.Service{Name: "svc", Handler: h, Listeners: []server.Listener{{Name: name, Addr: "127.0.0.1:0"}}}
}

func h1Client() *http.Client {
	return &http.Client{Timeout: safety, Transport: &http.Transport{Proxy: nil}}
}

func h2cClient() *http.Client {
	return &http.Client{Timeout: safety, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func getBody(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func newCert(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	return server.SelfSignedCert(t, name)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(safety)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blocker is a handler that holds requests until released.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		io.WriteString(w, "finished")
	case <-r.Context().Done():
	}
}

func (b *blocker) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-b.entered:
	case <-time.After(safety):
		t.Fatal("request never reached the handler")
	}
}

type result struct {
	status int
	body   string
	err    error
}

// goGet runs a GET in the background.
func goGet(c *http.Client, url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

func await(t *testing.T, c <-chan result) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(safety):
		t.Fatal("request never finished")
	}
	return result{}
}
