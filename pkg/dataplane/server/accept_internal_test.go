package server

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Client connections send no TCP keep-alive probes, as with nginx, HAProxy
// and Envoy by default; Go's default cost four setsockopt calls per
// connection.
func TestAcceptedConnectionsSendNoKeepAliveProbes(t *testing.T) {
	s := New(Options{})
	ln, err := s.socket(Listener{Name: "http", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer release(ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var gerr error
	rc.Control(func(fd uintptr) { on, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if gerr != nil || on != 0 {
		t.Errorf("SO_KEEPALIVE %d (%v), want 0", on, gerr)
	}
}

// A connection accepted after another ended is served by the goroutine
// that served the other, whose stack has grown already, instead of a new
// one that grows its own (a new connection per request: 5% of the CPU).
func TestNextConnectionReusesTheIdleWorker(t *testing.T) {
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strconv.FormatUint(goroutineID(), 10))
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := runtime.NumGoroutine()
	first := closeRequest(t, s)
	waitUntil(t, "an idle worker", func() bool { return s.idleWorkers.Load() == 1 })
	if second := closeRequest(t, s); second != first {
		t.Errorf("second connection served by goroutine %s, want the idle worker %s", second, first)
	}
	waitUntil(t, "an idle worker", func() bool { return s.idleWorkers.Load() == 1 })
	s.Close()
	waitUntil(t, "the idle worker to end with the Server", func() bool { return runtime.NumGoroutine() < before })
}

// closeRequest makes one request on a connection of its own, which the
// server closes, and returns the body.
func closeRequest(t *testing.T, s *Server) string {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("response %q", resp)
	}
	return string(body)
}

func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

// waitUntil polls cond until it holds, failing after parkSafety.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(parkSafety)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
