package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/http2"
)

// A stream's handler can go as deep as a proxied request does without
// the runtime moving its stack: x/net/http2 starts a goroutine per
// stream, and a move copies the stack and rewrites every frame on it,
// per request.
func TestH2HandlersStartWithRoomForAProxiedRequest(t *testing.T) {
	moved := make(chan bool, 1)
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var top byte
			before := uintptr(unsafe.Pointer(&top))
			growStack(4)
			moved <- uintptr(unsafe.Pointer(&top)) != before
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h2c := &http.Client{Timeout: 10 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	resp, err := h2c.Get("http://" + s.Addr("http").String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if <-moved {
		t.Error("the handler's stack was moved: it started smaller than a proxied request needs")
	}
}
