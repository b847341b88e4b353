package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// An idle keep-alive connection gives its buffers back after idleGrace,
// so that it costs its goroutine and socket only (issue 14: net/http kept
// 4 KiB + 4 KiB and a background read goroutine per idle connection).
func TestIdleConnectionReleasesItsBuffers(t *testing.T) {
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	for range 2 { // the second request reuses what the first left
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(rd, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * idleGrace)
	for holdingBuffers(s) {
		if time.Now().After(deadline) {
			t.Fatalf("buffers still held %v after the response", 10*idleGrace)
		}
		time.Sleep(idleGrace / 4)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after idling: %v %v", resp, err)
	}
}

func holdingBuffers(s *Server) bool {
	held := false
	s.served.each(func(c served) {
		if h, ok := c.(*h1conn); ok && h.holding.Load() {
			held = true
		}
	})
	return held
}
