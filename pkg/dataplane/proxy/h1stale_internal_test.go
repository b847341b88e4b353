package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// The stale check's recvfrom(2) is saved for a pooled connection that came
// back just now when the request could go again on a new connection (a
// bodiless GET); a request that cannot (a POST), or one on a connection
// that idled a while, still polls the socket before it is sent.
func TestH1ClientPollsPooledConnectionOnlyWhenItMatters(t *testing.T) {
	addr := okBackend(t)
	var polls atomic.Int64
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &pollCountingConn{TCPConn: c.(*net.TCPConn), polls: &polls}, nil
	}
	c := newH1Client(dial, peerKey{idleTimeout: time.Hour}, Options{MaxIdleConnsPerPeer: 4})
	c.staleCheckAfter = time.Minute // however slow the machine, "just now"
	t.Cleanup(c.CloseIdleConnections)

	roundTrip := func(method string, body io.Reader) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+"/", body)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	roundTrip("GET", nil) // dials
	roundTrip("GET", nil)
	roundTrip("GET", nil)
	if n := polls.Load(); n != 0 {
		t.Errorf("two GETs on a connection just pooled polled it %d times, want 0", n)
	}
	roundTrip("POST", strings.NewReader("once"))
	if n := polls.Load(); n != 1 {
		t.Errorf("a POST polled the pooled connection %d times, want 1", n)
	}
	c.mu.Lock()
	c.idle[len(c.idle)-1].idleSince = monoclock.Nanos() - int64(2*time.Minute)
	c.mu.Unlock()
	roundTrip("GET", nil)
	if n := polls.Load(); n != 2 {
		t.Errorf("a GET on a connection idle for longer than staleCheckAfter: %d polls in all, want 2", n)
	}
}

// okBackend answers every request of every connection with 200 "ok".
func okBackend(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// pollCountingConn counts the stale checks' reads of the raw socket.
type pollCountingConn struct {
	*net.TCPConn
	polls *atomic.Int64
}

func (c *pollCountingConn) SyscallConn() (syscall.RawConn, error) {
	raw, err := c.TCPConn.SyscallConn()
	return &pollCountingRaw{RawConn: raw, polls: c.polls}, err
}

type pollCountingRaw struct {
	syscall.RawConn
	polls *atomic.Int64
}

func (r *pollCountingRaw) Read(f func(fd uintptr) bool) error {
	r.polls.Add(1)
	return r.RawConn.Read(f)
}
