package handoff

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// safety bounds every wait in these tests; reaching it is a failure, never
// a measurement.
const safety = 20 * time.Second

// sockPath is a handoff path whose directory does not exist yet. It lives
// under a short temp dir because sun_path holds at most 107 bytes.
func sockPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ho")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "run", "handoff.sock")
}

func tcpListener(t *testing.T) *net.TCPListener {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// offerT offers ls and returns a channel closed by onTaken. onTaken closes it
// unguarded, so a second call panics the test: it must run exactly once.
func offerT(t *testing.T, path string, ls map[string]net.Listener, opts ...OfferOption) (*Offerer, chan struct{}) {
	t.Helper()
	taken := make(chan struct{})
	o, err := Offer(context.Background(), path, ls, func() { close(taken) }, opts...)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o, taken
}

func takeT(t *testing.T, path string) *Taken {
	t.Helper()
	tk, err := Take(context.Background(), path)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	t.Cleanup(func() {
		for _, l := range tk.Listeners {
			l.Close()
		}
	})
	return tk
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(safety):
		t.Fatalf("gave up waiting for %s", what)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// roundTrip proves l accepts connections made to addr: it dials, accepts,
// and echoes one message back.
func roundTrip(t *testing.T, l net.Listener, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, safety)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	s := acceptWithin(t, l)
	defer s.Close()
	echoCheck(t, c, s)
}

func acceptWithin(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now().Add(safety))
	defer l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Time{})
	s, err := l.Accept()
	if err != nil {
		t.Fatalf("accept on %s: %v", l.Addr(), err)
	}
	return s
}

func echoCheck(t *testing.T, client, server net.Conn) {
	t.Helper()
	client.SetDeadline(time.Now().Add(safety))
	server.SetDeadline(time.Now().Add(safety))
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
}

// fakePredecessor listens at path like an offerer would and lets respond
// misbehave on the first connection. The returned func waits for it and
// closes everything it opened.
func fakePredecessor(t *testing.T, path string, respond func(c *net.UnixConn)) (wait func()) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		respond(c)
	}()
	var once sync.Once
	wait = func() { once.Do(func() { ln.Close(); wg.Wait() }) }
	t.Cleanup(wait)
	return wait
}

// rawTake connects like a successor but drives the protocol by hand.
func rawTake(t *testing.T, path string) (*net.UnixConn, frame, []int) {
	t.Helper()
	c, err := net.DialUnix(network, nil, &net.UnixAddr{Name: path, Net: network})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(safety))
	f, fds, err := readFrame(c)
	if err != nil {
		t.Fatalf("read first message: %v", err)
	}
	return c, f, fds
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// takeUntil retries Take while the offerer is still busy with an earlier
// successor (it notices a dropped one asynchronously).
func takeUntil(t *testing.T, path string) *Taken {
	t.Helper()
	deadline := time.Now().Add(safety)
	for {
		tk, err := Take(context.Background(), path)
		if err == nil {
			t.Cleanup(func() {
				for _, l := range tk.Listeners {
					l.Close()
				}
			})
			return tk
		}
		if !errors.Is(err, ErrHandoffInProgress) || time.Now().After(deadline) {
			t.Fatalf("Take: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
