//go:build linux

package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// maxParkedBytes bounds the heap a parked idle keep-alive connection
// keeps on the server beyond Go's own accepted socket: its parkedConn,
// idle timer, count and client address, about 0.4 KiB. Neither the
// h1conn (1 KiB) nor the store lent while a request is under way (8 KiB
// and more, see connStore) may stay with it.
const maxParkedBytes = 768

func TestParkedConnectionHeapCost(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("heap figures need a build without -race")
	}
	const conns = 200
	goOnly := heapPerConn(conns, func() []net.Conn {
		addr, accepted := startPlainAcceptor(t)
		clients := dialConns(t, addr, conns, false)
		for accepted() < conns {
			time.Sleep(time.Millisecond)
		}
		return clients
	})
	s := startParking(t, Options{}, nil)
	dialIdle(t, s, nil) // the server's own goroutines (poller) start
	parked := heapPerConn(conns, func() []net.Conn {
		before := runtime.NumGoroutine()
		clients := dialConns(t, s.Addr("http").String(), conns, true)
		waitParked(t, s, before, conns)
		return clients
	})
	t.Logf("heap per idle connection, both ends: %d bytes with Go's accept alone, %d parked in Baton", goOnly, parked)
	if extra := parked - goOnly; extra > maxParkedBytes {
		t.Errorf("a parked connection keeps %d bytes more than Go's socket, want at most %d", extra, maxParkedBytes)
	}
}

// startPlainAcceptor accepts connections and holds them, doing nothing
// else: Go's sockets alone. accepted counts them.
func startPlainAcceptor(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(held)
	}
}

// dialConns opens n connections to addr; each makes one request first
// when request is set.
func dialConns(t *testing.T, addr string, n int, request bool) []net.Conn {
	t.Helper()
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
		if !request {
			continue
		}
		c.SetDeadline(time.Now().Add(parkSafety))
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return clients
}

// heapPerConn is the live heap per connection that open adds: its
// garbage collected, and the pools emptied.
func heapPerConn(n int, open func() []net.Conn) int64 {
	before := liveHeap()
	clients := open()
	after := liveHeap()
	runtime.KeepAlive(clients)
	return (after - before) / int64(n)
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC() // what the first left in the pools' victim caches
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
