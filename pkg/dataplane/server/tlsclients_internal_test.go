package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Held TLS responses (tlsHold) against clients that do more than ask and
// read: KeyUpdates, records that fail, close_notify, TLS 1.2, a client
// that stops reading. What the client receives is asserted record by
// record (rawTLSClient.received, tlsrecords_internal_test.go).

const keepAliveGet = "GET /k HTTP/1.1\r\nHost: x\r\n\r\n"

// warmRawTLS connects and makes keep-alive requests until the server's
// wait holds the buffers, as for a busy client (see graceAfter).
func warmRawTLS(t *testing.T, s *Server, clientConf *tls.Config) *rawTLSClient {
	t.Helper()
	c := dialRawTLS(t, s, clientConf)
	for range graceAfter + 1 {
		c.idle.roundTrip(t, keepAliveGet, "/k")
	}
	return c
}

// startTLSParking serves startListener's handler over TLS; its client
// configuration comes with it.
func startTLSParking(t *testing.T) (*Server, *tls.Config) {
	serverConf, clientConf := tlsConfs(t)
	return startParking(t, Options{}, serverConf), clientConf
}

// bodies are the bodies of the HTTP/1 responses data holds, in order; it
// fails on anything else, a response cut short included.
func bodies(t *testing.T, data string) []string {
	t.Helper()
	data, ok := strings.CutPrefix(data, "data:")
	if !ok {
		t.Fatalf("%q: want responses", data)
	}
	rd := bufio.NewReader(strings.NewReader(data))
	var got []string
	for {
		if _, err := rd.Peek(1); err == io.EOF {
			return got
		}
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("response %d: %v", len(got)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d: %v", len(got)+1, err)
		}
		got = append(got, string(b))
	}
}

// assertReceived checks what the server sent, its data records joined
// (see joinData): want has a list of bodies for each run of data, or the
// record itself.
func assertReceived(t *testing.T, got []string, want ...any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %q; want %d runs of records: %v", got, len(want), want)
	}
	for i, w := range want {
		switch w := w.(type) {
		case []string:
			if b := bodies(t, got[i]); !slices.Equal(b, w) {
				t.Fatalf("run %d: bodies %q, want %q", i, b, w)
			}
		case string:
			if got[i] != w {
				t.Fatalf("run %d: %q, want %q (all: %q)", i, got[i], w, got)
			}
		}
	}
}

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// A client's KeyUpdate that asks for one back (RFC 8446 §4.6.3), after
// it read a held response: the server answers with its own, then serves
// the next requests under the new keys both ways; a KeyUpdate that asks
// for none gets none.
func TestTLSKeyUpdateAfterHeldResponse(t *testing.T) {
	s, clientConf := startTLSParking(t)
	c := warmRawTLS(t, s, clientConf)
	c.keyUpdate(t, true)
	c.idle.roundTrip(t, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", "/after")
	c.keyUpdate(t, false)
	c.idle.roundTrip(t, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n", "/again")
	assertReceived(t, joinData(c.received(t)), repeat("hi /k", graceAfter+1), "keyupdate:0", []string{"hi /after", "hi /again"})
}

// A KeyUpdate that came with a request, in one segment: the tls.Conn
// read it with the request, and answers it in the wait for the next
// one, without reading the socket. The held response goes out first,
// whole; then the connection is idle, closable by a drain, as after any
// response: it used to stay in use until its next request or its idle
// timeout, holding a drain up for as long.
func TestTLSKeyUpdateWithARequestLeavesTheConnectionIdle(t *testing.T) {
	s, clientConf := startTLSParking(t)
	c := warmRawTLS(t, s, clientConf)
	c.cc.coalesce = true
	io.WriteString(c.idle, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
	c.keyUpdate(t, true)
	if err := c.cc.send(); err != nil {
		t.Fatal(err)
	}
	c.idle.roundTrip(t, "", "/p")
	// Before the grace for the next request ends (idleGrace), which
	// turned the connection idle too.
	waitUntil(t, "the connection's goroutine waiting for a request", func() bool {
		return waitingInRead(stacks(), "(*tlsHold).Read")
	})
	if closeIdle(s) != 1 {
		t.Fatal("the connection, waiting for its next request, is in use: a drain cannot close it")
	}
	c.idle.awaitClosed(t)
	assertReceived(t, joinData(c.received(t)), append(repeat("hi /k", graceAfter+1), "hi /p"), "keyupdate:0", "alert:1,0")
}

// stacks are every goroutine's stack, one string each.
func stacks() []string {
	buf := make([]byte, 1<<20)
	return strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
}

// waitingInRead reports whether a goroutine waits for its socket to be
// readable under a call to fn.
func waitingInRead(stacks []string, fn string) bool {
	return slices.ContainsFunc(stacks, func(s string) bool {
		return strings.Contains(s, fn) && strings.Contains(s, "(*pollDesc).waitRead")
	})
}

// closeIdle closes the idle connections, as a drain does, and counts them.
func closeIdle(s *Server) int {
	n := 0
	s.served.each(func(c served) {
		if c.closeIfIdle() {
			n++
		}
	})
	return n
}

// Records a server cannot take, right after a request (in one segment:
// the tls.Conn meets them in the wait, with the response held) or once
// its response was read: the client gets the whole response, then the
// alert, then the close; the connection ends, its held records' buffer
// back in the pool, its goroutine gone.
func TestTLSBadRecordAfterHeldResponse(t *testing.T) {
	for _, bad := range []struct {
		name  string
		write func(*rawTLSClient, *testing.T)
		alert string
	}{
		{"bad_record_mac", (*rawTLSClient).badRecord, "alert:2,20"},
		{"not a record", func(c *rawTLSClient, t *testing.T) { c.cc.Write([]byte("GARBAGE\r\n")) }, "alert:2,70"},
	} {
		for _, coalesced := range []bool{true, false} {
			name := bad.name + map[bool]string{true: " with the request", false: " after the response"}[coalesced]
			t.Run(name, func(t *testing.T) {
				s, clientConf := startTLSParking(t)
				c := warmRawTLS(t, s, clientConf)
				h := theTLSHold(t, s)
				c.cc.coalesce = coalesced
				io.WriteString(c.idle, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
				if !coalesced {
					c.idle.roundTrip(t, "", "/p")
				}
				bad.write(c, t)
				if err := c.cc.send(); err != nil {
					t.Fatal(err)
				}
				if coalesced {
					c.idle.roundTrip(t, "", "/p")
				}
				if _, err := c.idle.rd.ReadByte(); err == nil {
					t.Fatal("read on after the bad record")
				}
				// crypto/tls's Close says close_notify after a fatal
				// alert too: the client may have read it with the alert.
				got := joinData(c.received(t))
				if len(got) == 3 && got[2] == "alert:1,0" {
					got = got[:2]
				}
				assertReceived(t, got, append(repeat("hi /k", graceAfter+1), "hi /p"), bad.alert)
				assertConnectionGone(t, s, h)
			})
		}
	}
}

// theTLSHold is the tlsHold of s's one connection, parked or not.
func theTLSHold(t *testing.T, s *Server) *tlsHold {
	t.Helper()
	var holds []*tlsHold
	s.served.each(func(c served) {
		switch c := c.(type) {
		case *h1conn:
			holds = append(holds, c.tlsh)
		case *parkedConn:
			holds = append(holds, tlsHoldOf(c.conn))
		}
	})
	holds = slices.Compact(holds) // while it parks, both its halves are tracked
	if len(holds) != 1 || holds[0] == nil {
		t.Fatalf("holds %v; want one connection's", holds)
	}
	return holds[0]
}

// assertConnectionGone waits for s to serve no connection and run no
// connection goroutine, and checks that h (if any) holds no records'
// buffer.
func assertConnectionGone(t *testing.T, s *Server, h *tlsHold) {
	t.Helper()
	waitConns(t, s, 0)
	waitUntil(t, "no connection goroutine", func() bool {
		return !slices.ContainsFunc(stacks(), func(s string) bool { return strings.Contains(s, "server.(*h1conn)") })
	})
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buf != nil || h.out.held != nil {
		t.Fatalf("the connection ended holding %d bytes of records", len(h.out.held))
	}
}

// A client that says close_notify (RFC 8446 §6.1) with its request, in
// one segment, or right after reading the response, or closes: the
// whole response comes first, then the server's close_notify, and the
// connection ends.
func TestTLSCloseNotifyAfterHeldResponse(t *testing.T) {
	for _, tt := range []struct {
		name      string
		coalesced bool
		close     func(*tls.Conn) error
	}{
		{"CloseWrite with the request", true, (*tls.Conn).CloseWrite},
		{"CloseWrite after the response", false, (*tls.Conn).CloseWrite},
		{"Close after the response", false, (*tls.Conn).Close},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, clientConf := startTLSParking(t)
			c := warmRawTLS(t, s, clientConf)
			h := theTLSHold(t, s)
			c.cc.coalesce = tt.coalesced
			io.WriteString(c.idle, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
			if !tt.coalesced {
				c.idle.roundTrip(t, "", "/p")
			}
			if err := tt.close(c.tc); err != nil {
				t.Fatal(err)
			}
			if tt.coalesced {
				c.cc.SetWriteDeadline(time.Time{}) // CloseWrite's, for the tls.Conn's writes after
				if err := c.cc.send(); err != nil {
					t.Fatal(err)
				}
				c.idle.roundTrip(t, "", "/p")
			}
			assertConnectionGone(t, s, h)
			if strings.HasPrefix(tt.name, "Close ") {
				return // nothing more can be read
			}
			c.idle.awaitClosed(t)
			assertReceived(t, joinData(c.received(t)), append(repeat("hi /k", graceAfter+1), "hi /p"), "alert:1,0")
		})
	}
}

// tls12 is the client's configuration, up to TLS 1.2.
func tls12(t *testing.T) (server, client *tls.Config) {
	server, client = tlsConfs(t)
	client.MaxVersion = tls.VersionTLS12
	return server, client
}

// A TLS 1.2 client's keep-alive responses are held as a TLS 1.3 one's:
// no read of their own; pipelined requests are answered whole and in
// order, in records of one segment or one record.
func TestTLS12KeepAliveHeldResponses(t *testing.T) {
	serverConf, clientConf := tls12(t)
	t.Run("reads", func(t *testing.T) {
		s := startParking(t, Options{}, serverConf)
		tc := tls.Client(blockingConn{dialBlocking(t, s.Addr("http").(*net.TCPAddr))}, clientConf)
		if err := tc.Handshake(); err != nil || tc.ConnectionState().Version != tls.VersionTLS12 {
			t.Fatalf("%v, version %x", err, tc.ConnectionState().Version)
		}
		assertReadsPerRequest(t, tc, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\nhi /r")
	})
	t.Run("pipelined", func(t *testing.T) {
		s := startParking(t, Options{}, serverConf)
		tc, cc, c := dialCoalescingTLS(t, s, clientConf)
		for range graceAfter + 1 {
			c.roundTrip(t, keepAliveGet, "/k")
		}
		if v := tc.ConnectionState().Version; v != tls.VersionTLS12 {
			t.Fatalf("version %x", v)
		}
		c.roundTrip(t, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n", "/a", "/b", "/c")
		cc.coalesce = true // a record each, in one segment
		for _, p := range []string{"/d", "/e", "/f"} {
			io.WriteString(tc, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		if err := cc.send(); err != nil {
			t.Fatal(err)
		}
		c.roundTrip(t, "", "/d", "/e", "/f")
		c.roundTrip(t, "GET /g HTTP/1.1\r\nHost: x\r\n\r\n", "/g")
	})
	t.Run("large", func(t *testing.T) {
		assertLargeResponsesOverSmallSendBuffer(t, serverConf, func(c net.Conn) net.Conn { return tls.Client(c, clientConf) })
	})
}

// A client that stops reading with a response's last bytes held, the
// socket's send buffer full: the wait's blocking send of them is bounded
// by the connection's write deadline, as the proxy sets it (SendTimeout,
// see boundLastFlush in pkg/dataplane/proxy), and a drain that gives up
// closes it (Server.Close): either way the connection ends and its
// goroutine returns. The deadline's error used to pass for the end of
// the wait's grace: the connection, its response cut short, went idle
// until its idle timeout.
func TestHeldResponseToAClientThatStopsReading(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	for _, tt := range []struct {
		name          string
		writeDeadline time.Duration
		tls           bool
	}{
		{"TLS write deadline", time.Second, true},
		{"TLS drain", 0, true},
		{"cleartext write deadline", time.Second, false},
		{"cleartext drain", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc, cc := serverConf, clientConf
			if !tt.tls {
				sc, cc = nil, nil
			}
			s := serveHandler(t, sc, fillingHandler(t, tt.writeDeadline))
			c := dialNotReading(t, s, cc)
			for range graceAfter + 1 {
				c.roundTrip(t, keepAliveGet, "/k")
			}
			var h *tlsHold
			if tt.tls {
				h = theTLSHold(t, s)
			}
			io.WriteString(c, "GET /fill HTTP/1.1\r\nHost: x\r\n\r\n")
			waitUntil(t, "the held bytes' send blocked", func() bool {
				return slices.ContainsFunc(stacks(), func(s string) bool {
					return strings.Contains(s, "(*sendThenRead).sendThenReadConn") && strings.Contains(s, "(*pollDesc).waitWrite")
				})
			})
			start := time.Now()
			bound := tt.writeDeadline
			if tt.writeDeadline == 0 {
				bound = 100 * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), bound)
				defer cancel()
				if err := s.Shutdown(ctx); err == nil {
					t.Error("the drain ended with the response unsent")
				}
			}
			assertConnectionGone(t, s, h)
			// Server.Close's close_notify, behind the records held,
			// used to wait for crypto/tls's 5 s bound on it.
			if d := time.Since(start); d > bound+2*time.Second {
				t.Errorf("the connection ended %v after the send blocked; want about %v", d, bound)
			}
		})
	}
}

// fillingHandler answers /fill by filling the socket's send buffer
// with bytes of its own, under TLS (the client, which reads no more,
// never sees them), then a body: the wait's send of its end, held, finds
// no room and blocks. Other paths get "hi PATH".
func fillingHandler(t *testing.T, writeDeadline time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fill" {
			io.WriteString(w, "hi "+r.URL.Path)
			return
		}
		c := w.(*response).c
		setSendBuffer(t, c.rawConn(), 4096)
		raw := c.conn
		if c.tlsh != nil {
			raw = c.tlsh.Conn
		}
		fillUntilStalled(t, raw)
		if writeDeadline > 0 {
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeDeadline))
		}
		// The last flush, held: larger than what the client's kernel
		// may free of its receive buffer by compacting it.
		w.Write(bytes.Repeat([]byte("t"), 3000)) // with the head: in the writer's buffer
	})
}

// fillUntilStalled writes to c until it takes nothing for a while: the
// client's kernel, which makes room in its receive buffer for a time
// after the client stopped reading (compacting it), has none left.
func fillUntilStalled(t *testing.T, c net.Conn) {
	chunk := make([]byte, 1024)
	defer c.SetWriteDeadline(time.Time{})
	for {
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Write(chunk)
		if errors.Is(err, os.ErrDeadlineExceeded) && n == 0 {
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Error(err)
			return
		}
	}
}

// dialNotReading connects with a small receive buffer, which a client
// that stops reading fills at once; over TLS with a non-nil clientConf.
func dialNotReading(t *testing.T, s *Server, clientConf *tls.Config) *idleClient {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
	}}
	raw, err := d.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c := raw
	if clientConf != nil {
		c = tls.Client(raw, clientConf)
	}
	c.SetDeadline(time.Now().Add(parkSafety))
	return &idleClient{Conn: c, rd: bufio.NewReader(c)}
}
