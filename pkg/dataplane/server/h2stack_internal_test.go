package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/http2"
)

// A stream's handler can go as deep as a proxied request does without
// the runtime moving its stack: x/net/http2 starts a goroutine per
// stream, and a move copies the stack and rewrites every frame on it,
// per request. Handlers run on workers that keep their grown stack, so
// once one request grew it, the next ones do not move it (on the
// goroutine x/net starts per stream, every request did: issue 14).
func TestH2HandlersKeepTheStackARequestGrew(t *testing.T) {
	// No GC between the requests: one may shrink an idle stack (see
	// workerStackBytes for why it does not in practice).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	moved := make(chan bool, 1)
	addr := startH2(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var top byte
		before := uintptr(unsafe.Pointer(&top))
		growStack(16)
		moved <- uintptr(unsafe.Pointer(&top)) != before
	}))
	c := h2cTestClient()
	for i := range 3 {
		get(t, c, "http://"+addr+"/")
		if m := <-moved; m && i > 0 {
			t.Fatalf("request %d: the handler's stack was moved: it did not keep the stack an earlier request grew", i+1)
		}
	}
}

// A handler that aborts (http.ErrAbortHandler, as the proxy does for a
// response it cannot finish), panics or calls runtime.Goexit has its
// stream reset, as on the goroutine x/net starts; the server goes on
// serving.
func TestH2HandlerAbortsResetTheStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func()
	}{
		{"abort", func() { panic(http.ErrAbortHandler) }},
		{"panic", func() { panic("boom") }},
		{"goexit", runtime.Goexit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startH2(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/ok" {
					io.WriteString(w, "ok")
					return
				}
				w.Header().Set("Content-Length", "10")
				io.WriteString(w, "part")
				w.(http.Flusher).Flush()
				tc.end()
			}))
			c := h2cTestClient()
			resp, err := c.Get("http://" + addr + "/")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			var se http2.StreamError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want the stream reset", err)
			}
			if body := get(t, c, "http://"+addr+"/ok"); body != "ok" {
				t.Fatalf("the next request got %q", body)
			}
		})
	}
}

// startH2 serves h on a cleartext listener (h2c by preface) and returns
// its address.
func startH2(t *testing.T, h http.Handler) string {
	t.Helper()
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}}, Handler: h})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr("http").String()
}

func h2cTestClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
