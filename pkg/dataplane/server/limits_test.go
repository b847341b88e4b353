package server_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// dialBounded connects to addr, closed when the test ends, with every
// read and write bounded by the safety deadline.
func dialBounded(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(safety))
	return c
}

// dialKeepAlive opens a connection and completes one request on it, so
// the server surely counts it.
func dialKeepAlive(t *testing.T, addr string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c := dialBounded(t, addr)
	rd := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c, rd, resp
}

func TestConnectionLimitAnswers503(t *testing.T) {
	s := start(t, server.Options{MaxConnections: 2}, cleartext("http", hello("svc")))
	addr := s.Addr("http").String()
	first, _, r1 := dialKeepAlive(t, addr)
	_, _, r2 := dialKeepAlive(t, addr)
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("within the limit: %d, %d", r1.StatusCode, r2.StatusCode)
	}
	_, rd, r3 := dialKeepAlive(t, addr)
	if r3.StatusCode != http.StatusServiceUnavailable || !r3.Close || r3.Header.Get("Retry-After") == "" {
		t.Fatalf("beyond the limit: %d close=%v retry-after=%q, want 503, close, Retry-After", r3.StatusCode, r3.Close, r3.Header.Get("Retry-After"))
	}
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("refused connection: read = %v, want EOF", err)
	}
	first.Close()
	waitFor(t, "a freed slot to be usable", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && resp.StatusCode == 200
	})
}

// A client that trickles its headers (slowloris) is cut off after the
// read-header timeout, and others are served meanwhile.
func TestSlowHeadersAreCutOff(t *testing.T) {
	s := start(t, server.Options{ReadHeaderTimeout: 300 * time.Millisecond}, cleartext("http", hello("svc")))
	addr := s.Addr("http").String()
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.SetDeadline(time.Now().Add(safety))
	io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n")
	cut := make(chan error, 1)
	go func() {
		_, err := slow.Read(make([]byte, 1))
		cut <- err
	}()
	for i := 0; ; i++ {
		select {
		case err := <-cut:
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("slow client: read = %v, want the server to close", err)
			}
			if i < 2 {
				t.Fatalf("cut off after %d header lines: sooner than the timeout allows", i)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := io.WriteString(slow, "X-Slow: 1\r\n"); err != nil {
			return // closed by the server while writing: cut off as well
		}
		if _, _, resp := dialKeepAlive(t, addr); resp.StatusCode != 200 {
			t.Fatalf("another client got %d while a slow one trickled", resp.StatusCode)
		}
	}
}

func TestIdleKeepAliveIsClosed(t *testing.T) {
	s := start(t, server.Options{IdleTimeout: 200 * time.Millisecond}, cleartext("http", hello("svc")))
	_, rd, resp := dialKeepAlive(t, s.Addr("http").String())
	if resp.Close {
		t.Fatal("server closed at once instead of keeping the connection alive")
	}
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: read = %v, want EOF after the idle timeout", err)
	}
}

func TestOversizedHeadAnd431(t *testing.T) {
	s := start(t, server.Options{MaxHeaderBytes: 4 << 10}, cleartext("http", hello("svc")))
	addr := s.Addr("http").String()
	big := strings.Repeat("a", 8<<10)
	for name, raw := range map[string]string{
		"header": "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
		"URI":    "GET /" + big + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"fields": "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 1024) + "\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(safety))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("oversized %s: %v %v, want 431", name, resp, err)
		}
	}
	if _, _, resp := dialKeepAlive(t, addr); resp.StatusCode != 200 {
		t.Errorf("a normal request after the oversized ones got %d", resp.StatusCode)
	}
}

// A client that opens a TLS connection and never says anything (no
// handshake, no preface) is cut off after the read-header timeout too,
// although TLS is terminated below net/http.
func TestSilentClientsAreCutOff(t *testing.T) {
	cert, _ := newCert(t, "ingress.test")
	svc := server.Service{Name: "svc", Handler: hello("svc"), Listeners: []server.Listener{
		{Name: "http", Addr: "127.0.0.1:0"},
		{Name: "https", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}},
	}}
	s := start(t, server.Options{ReadHeaderTimeout: 200 * time.Millisecond}, svc)
	for _, name := range []string{"http", "https"} {
		c, err := net.Dial("tcp", s.Addr(name).String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(safety))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: silent client: read = %v, want the server to close", name, err)
		}
		c.Close()
	}
}

// hijacker takes over every connection, as a WebSocket tunnel does, and
// echoes on it until the client hangs up.
func hijacker(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	})
}

// dialTunnel opens a connection that the handler hijacks.
func dialTunnel(t *testing.T, addr string) (net.Conn, *http.Response) {
	t.Helper()
	c := dialBounded(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, resp
}

// A hijacked connection (a WebSocket tunnel) holds a descriptor and
// goroutines like any other: it counts against MaxConnections until it is
// closed, although net/http no longer tracks it.
func TestHijackedConnectionsCountAgainstTheLimit(t *testing.T) {
	s := start(t, server.Options{MaxConnections: 2}, cleartext("http", hijacker(t)))
	addr := s.Addr("http").String()
	first, r1 := dialTunnel(t, addr)
	_, r2 := dialTunnel(t, addr)
	if r1.StatusCode != 101 || r2.StatusCode != 101 {
		t.Fatalf("within the limit: %d, %d, want 101", r1.StatusCode, r2.StatusCode)
	}
	if _, r3 := dialTunnel(t, addr); r3.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("beyond the limit with 2 tunnels open: %d, want 503", r3.StatusCode)
	}
	first.Close()
	waitFor(t, "the closed tunnel's slot to be usable", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(safety))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && resp.StatusCode == 101
	})
}

// The first request's head is due ReadHeaderTimeout after the connection
// was handed over (at its first byte, see deferAccept), however its bytes
// trickle in: a byte now and then must not buy a client a fresh timeout.
func TestFirstHeadDueFromTheStart(t *testing.T) {
	const timeout = 400 * time.Millisecond
	s := start(t, server.Options{ReadHeaderTimeout: timeout}, cleartext("http", hello("svc")))
	c, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(safety))
	io.WriteString(c, "G")
	time.Sleep(timeout * 3 / 4) // pacing the client, not waiting for the server
	io.WriteString(c, "E")
	time.Sleep(timeout) // the head ends 7/4 of the timeout in: room for a late accept
	io.WriteString(c, "T / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Fatalf("a head completed %v after its first byte was served: %s", timeout*7/4, resp.Status)
	}
}

// A client that connects and says nothing takes no slot of MaxConnections
// until it speaks, or the kernel hands it over after a second (see
// deferAccept): a browser's pre-connected socket or a port scan costs the
// kernel a request socket, not Baton a descriptor and a slot.
func TestSilentConnectionTakesNoSlot(t *testing.T) {
	s := start(t, server.Options{MaxConnections: 1}, cleartext("http", hello("svc")))
	addr := s.Addr("http").String()
	began := time.Now()
	dialBounded(t, addr) // says nothing
	_, _, resp := dialKeepAlive(t, addr)
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Skipf("the request took %v: the kernel may have handed the silent connection over meanwhile", took)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a silent connection open: %d, want 200", resp.StatusCode)
	}
}
