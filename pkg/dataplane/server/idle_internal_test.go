package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
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
	waitBuffersReleased(t, s)
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

// A tunnel's client may shut down its sending side and still read (a raw
// TCP upgrade does): after a hijack that is no client gone, so the
// request's context lives on, as with net/http.
func TestHalfClosedTunnelIsNoClientGone(t *testing.T) {
	verdict := make(chan string, 1)
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				verdict <- err.Error()
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
			brw.Flush()
			io.Copy(io.Discard, brw) // until the client's half-close
			select {
			case <-r.Context().Done():
				verdict <- "context cancelled by the half-close"
			case <-time.After(3 * goneCheckInterval):
				verdict <- ""
			}
			io.WriteString(conn, "bye")
		})})
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
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
	rd := bufio.NewReader(c)
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	c.(*net.TCPConn).CloseWrite()
	if v := <-verdict; v != "" {
		t.Fatal(v)
	}
	if rest, _ := io.ReadAll(rd); string(rest) != "bye" {
		t.Errorf("after the half-close the tunnel delivered %q", rest)
	}
}

// An idle connection keeps no stack its last request grew (issue 14: the
// proxy's handler grows a goroutine's stack to 16 KiB and more, which an
// idle connection kept until a GC shrank it, most of its cost).
func TestIdleConnectionKeepsNoGrownStack(t *testing.T) {
	const conns = 200
	s := New(Options{}, Service{Name: "svc", Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			growStack(16)
			io.WriteString(w, "hi")
		})})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	before := stackInuse()
	for range conns {
		c, err := net.Dial("tcp", s.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
	waitBuffersReleased(t, s)
	time.Sleep(idleGrace) // the last hand-offs
	t.Logf("stack per idle connection: %d bytes (StackInuse, rough)", (int64(stackInuse())-int64(before))/conns)
	// The stack a goroutine grew stays until a GC shrinks it, which an
	// idle proxy may not run for long: what counts is that the goroutines
	// that ran the handler are gone: the connections are parked (see
	// parkedConn), or wait in new goroutines where there is no poller.
	buf := make([]byte, 8<<20)
	dump := string(buf[:runtime.Stack(buf, true)])
	if n := strings.Count(dump, "server.(*h1conn).awaitRequest("); n > 0 {
		t.Errorf("%d of %d idle connections wait in the goroutine that ran their handler", n, conns)
	}
}

// growStack uses about n KiB of stack.
//
//go:noinline
func growStack(n int) byte {
	var frame [1 << 10]byte
	frame[n%len(frame)] = byte(n)
	if n <= 1 {
		return frame[0]
	}
	return growStack(n-1) + frame[n%len(frame)]
}

func stackInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

// waitBuffersReleased waits until no connection of s holds its buffers,
// which idle connections give back after idleGrace.
func waitBuffersReleased(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for holdingBuffers(s) {
		if time.Now().After(deadline) {
			t.Fatalf("buffers still held 5s after the responses (idleGrace %v)", idleGrace)
		}
		time.Sleep(idleGrace / 4)
	}
}
