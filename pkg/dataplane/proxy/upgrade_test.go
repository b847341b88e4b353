package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// h2cSettings is an HTTP2-Settings value: SETTINGS_MAX_CONCURRENT_STREAMS=100.
var h2cSettings = base64.RawURLEncoding.EncodeToString([]byte{0, 3, 0, 0, 0, 100})

const h2cUpgradeRequest = "GET /first HTTP/1.1\r\nHost: app.test\r\n" +
	"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: %s\r\n\r\n"

// upgradeBackend serves every connection with fn, given the request head
// and the reader holding whatever the client sent after it.
func upgradeBackend(t *testing.T, fn func(c net.Conn, br *bufio.Reader, req *http.Request)) proxy.Peer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				fn(c, br, req)
			}()
		}
	}()
	return proxy.Peer{Address: l.Addr().String(), Scheme: proxy.SchemeHTTP1}
}

// rawRequest sends head on a new connection to the proxy and reads the
// response head; the connection stays open for what follows.
func rawRequest(t *testing.T, r *rig, head string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(safety))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return c, br, resp
}

// An h2c upgrade offer reaches an HTTP/1.1 backend whole; a backend that
// declines it answers in HTTP/1.1.
func TestH2CUpgradeOfferReachesHTTP1Backend(t *testing.T) {
	seen := make(chan http.Header, 1)
	peer := upgradeBackend(t, func(c net.Conn, _ *bufio.Reader, req *http.Request) {
		seen <- req.Header
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ndeclined")
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
	_, _, resp := rawRequest(t, r, strings.Replace(h2cUpgradeRequest, "%s", h2cSettings, 1))
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	if resp.StatusCode != 200 || string(body) != "declined" {
		t.Fatalf("got %d %q, want the backend's 200", resp.StatusCode, body)
	}
	h := <-seen
	if h.Get("Upgrade") != "h2c" || h.Get("Http2-Settings") != h2cSettings {
		t.Errorf("backend got Upgrade %q, HTTP2-Settings %q", h.Get("Upgrade"), h.Get("Http2-Settings"))
	}
	for _, token := range []string{"upgrade", "http2-settings"} {
		if !connectionHas(h, token) {
			t.Errorf("backend got Connection %q, without %s", h["Connection"], token)
		}
	}
}

func connectionHas(h http.Header, token string) bool {
	for _, v := range h["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// A backend that accepts the h2c upgrade answers the first request on
// stream 1 of the HTTP/2 connection the tunnel now carries, and serves
// further streams on it.
func TestH2CUpgradeTunnelsHTTP2(t *testing.T) {
	h2srv := &http2.Server{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path) // the frames it arrives in show it is HTTP/2
	})
	peer := upgradeBackend(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		if _, err := base64.RawURLEncoding.DecodeString(req.Header.Get("Http2-Settings")); err != nil || !connectionHas(req.Header, "http2-settings") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		h2srv.ServeConn(&bufferedConn{Conn: c, r: br}, &http2.ServeConnOpts{Handler: handler, UpgradeRequest: req})
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
	c, br, resp := rawRequest(t, r, strings.Replace(h2cUpgradeRequest, "%s", h2cSettings, 1))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "h2c" {
		t.Fatalf("got %d Upgrade %q, want 101 to h2c", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	h2 := newH2Client(t, c, br)
	if got := h2.response(t, 1); got != "200 /first" {
		t.Errorf("upgraded request: %q", got)
	}
	h2.get(t, 3, "/second")
	if got := h2.response(t, 3); got != "200 /second" {
		t.Errorf("second stream: %q", got)
	}
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// h2Client speaks HTTP/2 frames on a connection that was upgraded, where
// stream 1 is taken by the request that asked for the upgrade.
type h2Client struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func newH2Client(t *testing.T, c net.Conn, br *bufio.Reader) *h2Client {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2Client{fr: http2.NewFramer(c, br)}
	h.enc = hpack.NewEncoder(&h.buf)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *h2Client) get(t *testing.T, stream uint32, path string) {
	t.Helper()
	h.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "app.test"}, {":path", path}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: h.buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// response reads frames until stream ends and returns "status body".
func (h *h2Client) response(t *testing.T, stream uint32) string {
	t.Helper()
	status, body := "", ""
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading HTTP/2 frames through the tunnel: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				status = f.PseudoValue("status")
				if f.StreamEnded() {
					return status + " " + body
				}
			}
		case *http2.DataFrame:
			if f.StreamID == stream {
				body += string(f.Data())
				if f.StreamEnded() {
					return status + " " + body
				}
			}
		case *http2.GoAwayFrame, *http2.RSTStreamFrame:
			t.Fatalf("backend ended the exchange: %v", f)
		}
	}
}

// Upgrade tokens other than websocket are tunnelled alike, and the
// backend may pick any of the protocols offered.
func TestOtherUpgradeTokensAreTunnelled(t *testing.T) {
	for offer, pick := range map[string]string{"foo/1": "foo/1", "foo/1, websocket": "websocket", "IRC/6.9": "irc/6.9"} {
		peer := upgradeBackend(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			if req.Header.Get("Upgrade") != offer {
				io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
				return
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+pick+"\r\n\r\n")
			io.Copy(c, br) // echo
		})
		r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
		c, br, resp := rawRequest(t, r, "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: "+offer+"\r\n\r\n")
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != pick {
			t.Errorf("offer %q: got %d Upgrade %q, want 101 to %q", offer, resp.StatusCode, resp.Header.Get("Upgrade"), pick)
			continue
		}
		io.WriteString(c, "ping")
		echo := make([]byte, 4)
		if _, err := io.ReadFull(br, echo); err != nil || string(echo) != "ping" {
			t.Errorf("offer %q: echo %q, %v", offer, echo, err)
		}
	}
}

// A backend switching to a protocol nobody offered is refused.
func TestUpgradeToProtocolNotOfferedIs502(t *testing.T) {
	peer := upgradeBackend(t, func(c net.Conn, _ *bufio.Reader, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: bar\r\n\r\n")
	})
	r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
	_, _, resp := rawRequest(t, r, "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: foo/1, websocket\r\n\r\n")
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

// Peers spoken to in HTTP/2 (H2C, HTTPS) get the request without the h2c
// offer, which a server may ignore (RFC 9110 §7.8): h2c means nothing over
// TLS, and an H2C peer need not speak HTTP/1.1 at all.
func TestH2COfferIsDroppedForHTTP2Peers(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" upgrade="+r.Header.Get("Upgrade")+" settings="+r.Header.Get("Http2-Settings"))
	})
	h2c := newH2CBackend(t, handler)
	cert, pool := newCert(t, "backend.test")
	tlsBackend := httptest.NewUnstartedServer(handler)
	tlsBackend.EnableHTTP2 = true
	tlsBackend.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsBackend.StartTLS()
	t.Cleanup(tlsBackend.Close)
	peers := map[string]proxy.Peer{
		"h2c":   peerOf(t, h2c, proxy.SchemeH2C),
		"https": {Address: tlsBackend.Listener.Addr().String(), Scheme: proxy.SchemeHTTPS, SNI: "backend.test", RootCAs: pool},
	}
	for name, peer := range peers {
		r := newRig(t, &testPhases{peers: []proxy.Peer{peer}}, proxy.Options{}, nil)
		_, _, resp := rawRequest(t, r, strings.Replace(h2cUpgradeRequest, "%s", h2cSettings, 1))
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		if resp.StatusCode != 200 || string(body) != "HTTP/2.0 upgrade= settings=" {
			t.Errorf("%s peer: got %d %q, want 200 from HTTP/2 without the offer", name, resp.StatusCode, body)
		}
	}
}
