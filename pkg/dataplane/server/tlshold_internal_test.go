package server

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tlsConfs are a server's TLS configuration and its HTTP/1.1 client's.
func tlsConfs(t *testing.T) (server, client *tls.Config) {
	cert, pool := SelfSignedCert(t, "example.test")
	return &tls.Config{Certificates: []tls.Certificate{cert}},
		&tls.Config{RootCAs: pool, ServerName: "example.test", NextProtos: []string{"http/1.1"}}
}

// Issue 14 over TLS: the response's last record is held and sent by the
// wait for the next request, which reads once. The client's TLS reads
// are blocking read(2)s, one per response record, so the process reads
// twice per request where it read three times.
func TestTLSKeepAliveResponseCostsNoReadOfItsOwn(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	s := startParking(t, Options{}, serverConf)
	tc := tls.Client(blockingConn{dialBlocking(t, s.Addr("http").(*net.TCPAddr))}, clientConf)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	assertReadsPerRequest(t, tc, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\nhi /r")
}

// The same for a request with a body, which the handler read whole.
func TestTLSKeepAliveResponseToABodyCostsNoReadOfItsOwn(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	s := startBodyReader(t, serverConf)
	tc := tls.Client(blockingConn{dialBlocking(t, s.Addr("http").(*net.TCPAddr))}, clientConf)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	assertReadsPerRequest(t, tc, "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "\r\n\r\nread 5")
}

// blockingConn is a blocking socket as a net.Conn: each Read is one
// read(2), outside Go's poller (see dialBlocking).
type blockingConn struct{ fd int }

func (c blockingConn) Read(p []byte) (int, error) {
	n, err := unix.Read(c.fd, p)
	for err == unix.EINTR { // a read with SO_RCVTIMEO is not restarted after the runtime's signals
		n, err = unix.Read(c.fd, p)
	}
	switch {
	case err != nil:
		return 0, err
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c blockingConn) Write(p []byte) (int, error) {
	for sent := 0; sent < len(p); {
		n, err := unix.Write(c.fd, p[sent:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return sent, err
		}
		sent += n
	}
	return len(p), nil
}

func (c blockingConn) Close() error                     { return nil } // dialBlocking's cleanup closes
func (c blockingConn) LocalAddr() net.Addr              { return nil }
func (c blockingConn) RemoteAddr() net.Addr             { return nil }
func (c blockingConn) SetDeadline(time.Time) error      { return nil }
func (c blockingConn) SetReadDeadline(time.Time) error  { return nil }
func (c blockingConn) SetWriteDeadline(time.Time) error { return nil }

// A drain closing idle TLS connections as fast as it can loses no held
// response: the records go out before the connection turns idle.
func TestTLSDrainLosesNoHeldResponse(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	assertDrainLosesNoResponse(t, serverConf, clientConf, 100)
}

// Two requests in two records of one segment: the tls.Conn reads both
// with one read(2), and serves the second from what it holds, without
// reading the socket. The first one's response, held, is sent all the
// same before the second is handled (its handler waits for the client
// to have it), and the connection goes on serving.
func TestTLSResponseHeldBeforeABufferedRecordIsSent(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	got := make(chan struct{})
	s := serveHandler(t, serverConf, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			select {
			case <-got:
			case <-time.After(parkSafety):
			}
		}
		io.WriteString(w, "hi "+r.URL.Path)
	}))
	tc, cc, c := dialCoalescingTLS(t, s, clientConf)
	for range graceAfter + 1 {
		c.roundTrip(t, "GET /k HTTP/1.1\r\nHost: x\r\n\r\n", "/k")
	}
	cc.coalesce = true
	io.WriteString(tc, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	io.WriteString(tc, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := cc.send(); err != nil {
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	c.roundTrip(t, "", "/first")
	close(got)
	tc.SetReadDeadline(time.Now().Add(parkSafety))
	c.roundTrip(t, "", "/after")
	c.roundTrip(t, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", "/next")
}

// dialCoalescingTLS is a TLS client of s's listener "http" over a
// coalescingConn, as the idleClient that reads its responses.
func dialCoalescingTLS(t *testing.T, s *Server, clientConf *tls.Config) (*tls.Conn, *coalescingConn, *idleClient) {
	t.Helper()
	raw, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &coalescingConn{Conn: raw}
	tc := tls.Client(cc, clientConf)
	t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(parkSafety))
	return tc, cc, &idleClient{Conn: tc, rd: bufio.NewReader(tc)}
}

// coalescingConn gathers what is written while coalesce is set, and
// sends it in one write(2).
type coalescingConn struct {
	net.Conn
	coalesce bool
	pending  []byte
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.coalesce {
		c.pending = append(c.pending, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *coalescingConn) send() error {
	c.coalesce = false
	_, err := c.Conn.Write(c.pending)
	c.pending = nil
	return err
}

// A TLS response larger than the socket's send buffer goes out whole,
// its last record held and sent by the wait.
func TestTLSLargeKeepAliveResponseOverSmallSendBuffer(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	assertLargeResponsesOverSmallSendBuffer(t, serverConf, func(c net.Conn) net.Conn { return tls.Client(c, clientConf) })
}

// Records written after a held one follow it: close_notify from a Close,
// here from another goroutine than the one that held, as a drain's.
func TestTLSCloseNotifyFollowsHeldRecords(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	server, client := tcpPair(t)
	h := newTLSHold(server)
	stc, ctc := tls.Server(h, serverConf), tls.Client(client, clientConf)
	ctc.SetDeadline(time.Now().Add(parkSafety))
	stc.SetDeadline(time.Now().Add(parkSafety))
	handshook := make(chan error, 1)
	go func() { handshook <- stc.Handshake() }()
	if err := ctc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-handshook; err != nil {
		t.Fatal(err)
	}
	var state atomic.Int32
	rc, _ := server.(*net.TCPConn).SyscallConn()
	if !h.holdWrites(rc, &state) {
		t.Fatal("no socket to hold for")
	}
	io.WriteString(stc, "held response")
	h.endHold()
	if !h.owed {
		t.Fatal("nothing was held")
	}
	closed := make(chan error, 1)
	go func() { closed <- stc.Close() }()
	got, err := io.ReadAll(ctc)
	if string(got) != "held response" || err != nil {
		t.Fatalf("read %q, %v; want the held response, then close_notify (EOF)", got, err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// A client that asked "Expect: 100-continue" gets its 100 Continue as
// before, and the response to the body it then sent, held, comes before
// the connection's next request is read.
func TestExpectContinueThenKeepAlive(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	for _, tt := range []struct {
		name string
		conf *tls.Config
	}{{"cleartext", nil}, {"tls", serverConf}} {
		t.Run(tt.name, func(t *testing.T) {
			s := startBodyReader(t, tt.conf)
			raw, err := net.Dial("tcp", s.Addr("http").String())
			if err != nil {
				t.Fatal(err)
			}
			c := raw
			if tt.conf != nil {
				c = tls.Client(raw, clientConf)
			}
			t.Cleanup(func() { c.Close() })
			c.SetDeadline(time.Now().Add(parkSafety))
			rd := bufio.NewReader(c)
			for range graceAfter + 1 {
				io.WriteString(c, "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
				if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != http.StatusContinue {
					t.Fatalf("before the body: %v %v, want 100 Continue", resp, err)
				}
				io.WriteString(c, "body")
				resp, err := http.ReadResponse(rd, nil)
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := io.ReadAll(resp.Body); string(b) != "read 4" || resp.Close {
					t.Fatalf("%q, close %v", b, resp.Close)
				}
			}
		})
	}
}

// A parked TLS connection keeps nothing of the h1conn that held its last
// response: parking is to let it go (see parkedConn).
func TestParkedTLSConnectionHoldsNoH1conn(t *testing.T) {
	serverConf, clientConf := tlsConfs(t)
	s := startParking(t, Options{}, serverConf)
	parkCrowd(t, s, clientConf, 3)
	parked := 0
	s.served.each(func(c served) {
		p, ok := c.(*parkedConn)
		if !ok {
			return
		}
		parked++
		if h := tlsHoldOf(p.conn); h == nil || h.out.state != nil || h.owed {
			t.Errorf("parked connection's hold: %+v", h)
		}
	})
	if parked == 0 {
		t.Fatal("no connection parked")
	}
}
