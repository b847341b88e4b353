package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/logtest"
)

const (
	ppV1   = "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"
	ppV1v6 = "PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n"
)

// ppV2 is a v2 PROXY header for 203.0.113.7:4711 -> 192.0.2.1:443 with an
// AWS-style TLV.
var ppV2 = "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x15" +
	"\xcb\x00\x71\x07" + "\xc0\x00\x02\x01" + "\x12\x67" + "\x01\xbb" + "\xea\x00\x06vpce-1"

// whoAmI answers with the addresses the request came from and to.
func whoAmI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		io.WriteString(w, r.RemoteAddr+" -> "+local.String()+" "+r.Proto)
	})
}

// proxied is a listener requiring the PROXY protocol.
func proxied(name string, tlsConf *tls.Config) server.Service {
	return server.Service{Name: "svc", Handler: whoAmI(), Listeners: []server.Listener{
		{Name: name, Addr: "127.0.0.1:0", TLS: tlsConf, ProxyProtocol: true},
	}}
}

// dialProxied connects and sends header, the way a load balancer does.
func dialProxied(ctx context.Context, addr, header string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, header); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// askOver sends one request on c and returns the body.
func askOver(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(safety))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// askProxied asks over a new connection to addr that first sends header,
// and closes it.
func askProxied(t *testing.T, addr, header string) string {
	t.Helper()
	c, err := dialProxied(context.Background(), addr, header)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return askOver(t, c)
}

func TestProxyProtocolAddressIsTheRemoteAddr(t *testing.T) {
	s := start(t, server.Options{}, proxied("http", nil))
	addr := s.Addr("http").String()
	for header, want := range map[string]string{
		ppV1:                                     "203.0.113.7:4711 -> 192.0.2.1:443 HTTP/1.1",
		ppV2:                                     "203.0.113.7:4711 -> 192.0.2.1:443 HTTP/1.1",
		ppV1v6:                                   "[2001:db8::7]:4711 -> [2001:db8::1]:443 HTTP/1.1",
		"PROXY UNKNOWN\r\n":                      "127.0.0.1:", // the connection's own addresses stand
		"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00": "127.0.0.1:", // v2 LOCAL: a health check
	} {
		if got := askProxied(t, addr, header); !strings.HasPrefix(got, want) {
			t.Errorf("after %q: handler saw %q, want %q...", header, got, want)
		}
	}
}

// A header trickled one byte per write (each its own TCP segment: Go
// sets TCP_NODELAY) is read whole.
func TestProxyProtocolHeaderSplitAcrossWrites(t *testing.T) {
	s := start(t, server.Options{}, proxied("http", nil))
	for _, header := range []string{ppV1, ppV2} {
		c, err := net.Dial("tcp", s.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(header) {
			if _, err := io.WriteString(c, header[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
		if got := askOver(t, c); !strings.HasPrefix(got, "203.0.113.7:4711 ") {
			t.Errorf("handler saw %q", got)
		}
		c.Close()
	}
}

// expectClosedSilently reads from c until the server closes it, failing
// if it answers anything: without a valid header there is no framing to
// answer in.
func expectClosedSilently(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(safety))
	got, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open after %s", what, safety)
	}
	if len(got) > 0 {
		t.Errorf("%s: server answered %q, want the connection closed without a word", what, got)
	}
}

// Anything but a PROXY header, or a malformed one, is closed at once and
// logged with the peer address; the listener goes on serving.
func TestProxyProtocolRefusesGarbage(t *testing.T) {
	logs := logtest.NewRecorder()
	s := start(t, server.Options{Logger: logs.Logger()}, proxied("http", nil))
	addr := s.Addr("http").String()
	var first string
	for _, garbage := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // a client that bypassed the load balancer
		"PROXY TCP4 203.0.113.7 192.0.2.1 4711 99999\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"PROXY UNKNOWN " + strings.Repeat("x", 200),
		"\r\n\r\n\x00\r\nQUIT\n\x21\x41\x00\x00",
	} {
		c, err := dialProxied(context.Background(), addr, garbage)
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = c.LocalAddr().String()
		}
		expectClosedSilently(t, c, garbage)
		c.Close()
	}
	// Logged sparsely (1st, 2nd, 4th...): any client can cause it.
	waitFor(t, "the refusal logged", func() bool {
		r, ok := logs.Find("closed a connection without a valid PROXY protocol header")
		return ok && r.Level == slog.LevelWarn && r.Attrs["peer"].String() == first &&
			strings.Contains(r.Attrs["err"].String(), "bad PROXY protocol header") && r.Attrs["listener"].String() == "http"
	})
	if got := askProxied(t, addr, ppV1); !strings.HasPrefix(got, "203.0.113.7:4711 ") {
		t.Errorf("after refusals, a good connection got %q", got)
	}
}

// A client that sends part of a header and stalls, or nothing at all, is
// closed after the read-header timeout; the accept loop serves others
// meanwhile.
func TestProxyProtocolSlowHeaderTimesOut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	s := start(t, server.Options{ReadHeaderTimeout: timeout}, proxied("http", nil))
	addr := s.Addr("http").String()
	for _, partial := range []string{"", "PROXY TCP4 203.0.113.7", ppV2[:20]} {
		stalled, err := dialProxied(context.Background(), addr, partial)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		// Served while the stalled one waits: its header is read in its own goroutine.
		if got := askProxied(t, addr, ppV1); !strings.HasPrefix(got, "203.0.113.7:4711 ") {
			t.Errorf("while another stalled, handler saw %q", got)
		}
		stalled.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := stalled.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("stalled client closed (%v) before another was served: the accept loop waited for its header", err)
		}
		expectClosedSilently(t, stalled, "stalled after "+partial)
		if waited := time.Since(began); waited < timeout*3/4 {
			t.Errorf("stalled client closed after %s, before the %s timeout", waited, timeout)
		}
		stalled.Close()
	}
}

// The read-header timeout still applies to the request that follows the
// PROXY header: reading the header must not lift it.
func TestProxyProtocolThenSilentClientIsCutOff(t *testing.T) {
	s := start(t, server.Options{ReadHeaderTimeout: 200 * time.Millisecond}, proxied("http", nil))
	c, err := dialProxied(context.Background(), s.Addr("http").String(), ppV1+"GET / HTTP/1.1\r\n")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(safety))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("silent client after a PROXY header: read = %v, want the server to close", err)
	}
}

// TLS and h2c prior knowledge start after the PROXY header.
func TestProxyProtocolBeforeTLSAndH2C(t *testing.T) {
	cert, pool := newCert(t, "ingress.test")
	svc := proxied("http", nil)
	svc.Listeners = append(svc.Listeners, server.Listener{Name: "https", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, ProxyProtocol: true})
	s := start(t, server.Options{}, svc)

	h2c := &http.Client{Timeout: safety, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, _, addr string, _ *tls.Config) (net.Conn, error) {
			return dialProxied(ctx, addr, ppV2)
		},
	}}
	if _, got := getBody(t, h2c, "http://"+s.Addr("http").String()+"/"); got != "203.0.113.7:4711 -> 192.0.2.1:443 HTTP/2.0" {
		t.Errorf("h2c: handler saw %q", got)
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "ingress.test"},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialProxied(ctx, addr, ppV1v6)
		},
	}
	defer tr.CloseIdleConnections()
	resp, got := getBody(t, &http.Client{Timeout: safety, Transport: tr}, "https://"+s.Addr("https").String()+"/")
	if got != "[2001:db8::7]:4711 -> [2001:db8::1]:443 HTTP/2.0" || resp.TLS == nil {
		t.Errorf("TLS: handler saw %q", got)
	}
}

// With trusted proxies set, a peer outside them still has to send the
// header, but cannot speak for a client with it.
func TestProxyProtocolFromUntrustedPeerIsIgnored(t *testing.T) {
	for trusted, want := range map[string]string{
		"10.0.0.0/8":  "127.0.0.1:",
		"127.0.0.0/8": "203.0.113.7:4711",
	} {
		s := start(t, server.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix(trusted)}}, proxied("http", nil))
		if got := askProxied(t, s.Addr("http").String(), ppV1); !strings.HasPrefix(got, want) {
			t.Errorf("trusting %s: handler saw %q, want %q...", trusted, got, want)
		}
	}
}

// Listeners without the option take plain requests as before.
func TestNoProxyProtocolByDefault(t *testing.T) {
	s := start(t, server.Options{}, server.Service{Name: "svc", Handler: whoAmI(), Listeners: []server.Listener{{Name: "plain", Addr: "127.0.0.1:0"}}})
	c, err := net.Dial("tcp", s.Addr("plain").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := askOver(t, c); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("handler saw %q", got)
	}
}

// addrPortOnly is a handler that says it reads no RemoteAddr (see
// server.RemoteAddrReader): it answers with RemoteAddr, which must be
// empty, and the address its ResponseWriter tells instead.
type addrPortOnly struct{}

func (addrPortOnly) ReadsRemoteAddr() bool { return false }

func (addrPortOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap := w.(interface{ RemoteAddrPort() netip.AddrPort }).RemoteAddrPort()
	io.WriteString(w, "["+r.RemoteAddr+"] "+ap.String())
}

// A handler that reads no RemoteAddr gets the client's address from its
// ResponseWriter, as RemoteAddr would have said it: the PROXY header's,
// or the connection's own when the header carries none.
func TestRemoteAddrPortWithoutRemoteAddr(t *testing.T) {
	s := start(t, server.Options{}, server.Service{Name: "svc", Handler: addrPortOnly{}, Listeners: []server.Listener{
		{Name: "pp", Addr: "127.0.0.1:0", ProxyProtocol: true}, {Name: "plain", Addr: "127.0.0.1:0"},
	}})
	for header, want := range map[string]string{
		ppV1:                "[] 203.0.113.7:4711",
		ppV2:                "[] 203.0.113.7:4711",
		ppV1v6:              "[] [2001:db8::7]:4711",
		"PROXY UNKNOWN\r\n": "[] 127.0.0.1:",
	} {
		if got := askProxied(t, s.Addr("pp").String(), header); !strings.HasPrefix(got, want) {
			t.Errorf("after %q: handler saw %q, want %q...", header, got, want)
		}
	}
	c, err := net.Dial("tcp", s.Addr("plain").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := askOver(t, c), "[] "+c.LocalAddr().String(); got != want {
		t.Errorf("plain connection: handler saw %q, want %q", got, want)
	}
}
