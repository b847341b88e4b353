package proxy_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/websocket"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

func TestH2OverTLSDownstreamByALPN(t *testing.T) {
	seen := make(chan *http.Request, 1)
	backend := newCountingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		io.WriteString(w, "over "+r.Proto)
	}))
	cert, pool := newCert(t, "proxy.test")
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}, proxy.Options{},
		&tls.Config{Certificates: []tls.Certificate{cert}})

	client := &http.Client{Timeout: safety, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "proxy.test"},
		ForceAttemptHTTP2: true,
	}}
	req := mustRequest(t, "GET", r.url+"/a", nil)
	req.Host = "shop.example"
	resp, body := get(t, client, req)
	if resp.Proto != "HTTP/2.0" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("client spoke %s (ALPN %v), want HTTP/2.0 by ALPN", resp.Proto, resp.TLS)
	}
	if resp.StatusCode != 200 || body != "over HTTP/1.1" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	up := <-seen
	if got := up.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https", got)
	}
	if up.Host != "shop.example" {
		t.Errorf("upstream Host = %q, want the :authority the client sent", up.Host)
	}

	// An HTTP/1.1-only client still gets served on the same listener.
	h1 := &http.Client{Timeout: safety, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "proxy.test"}}}
	resp, _ = get(t, h1, mustRequest(t, "GET", r.url, nil))
	if resp.Proto != "HTTP/1.1" {
		t.Errorf("HTTP/1.1 client got %s", resp.Proto)
	}
	if got := (<-seen).Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("HTTP/1.1 over TLS: X-Forwarded-Proto = %q, want https", got)
	}
}

func TestH2CDownstreamAndUpstream(t *testing.T) {
	backend := newH2CBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Proto, r.Method, body)
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend, proxy.SchemeH2C)}}, proxy.Options{}, nil)

	client := h2cClient()
	for i := range 3 {
		resp, body := get(t, client, mustRequest(t, "POST", r.url, strings.NewReader(fmt.Sprint("n=", i))))
		if resp.Proto != "HTTP/2.0" {
			t.Fatalf("downstream spoke %s, want h2c", resp.Proto)
		}
		if want := fmt.Sprint("HTTP/2.0 POST n=", i); body != want {
			t.Fatalf("upstream saw %q, want %q", body, want)
		}
	}
	// A plain HTTP/1.1 client on the same cleartext listener.
	resp, body := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.Proto != "HTTP/1.1" || body != "HTTP/2.0 GET " {
		t.Fatalf("h1 client: %s %q", resp.Proto, body)
	}
}

func TestHTTPSUpstreamVerifiesCertificateForSNI(t *testing.T) {
	cert, pool := newCert(t, "backend.test")
	var mu sync.Mutex
	var snis []string
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	backend.EnableHTTP2 = true
	backend.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		snis = append(snis, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	backend.StartTLS()
	t.Cleanup(backend.Close)
	addr := backend.Listener.Addr().String()

	phases := &testPhases{peers: []proxy.Peer{{Address: addr, Scheme: proxy.SchemeHTTPS, SNI: "backend.test"}}}
	r := newRig(t, phases, proxy.Options{}, nil)
	resp, _ := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("unknown CA: status %d, want 502", resp.StatusCode)
	}

	phases.peers = []proxy.Peer{{Address: addr, Scheme: proxy.SchemeHTTPS, SNI: "backend.test", RootCAs: pool}}
	resp, body := get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != 200 || body != "HTTP/2.0" {
		t.Fatalf("trusted CA: %d %q, want 200 over h2 (ALPN)", resp.StatusCode, body)
	}

	// The right CA but a name the certificate does not cover.
	phases.peers = []proxy.Peer{{Address: addr, Scheme: proxy.SchemeHTTPS, SNI: "other.test", RootCAs: pool}}
	resp, _ = get(t, h1Client(), mustRequest(t, "GET", r.url, nil))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("wrong name: status %d, want 502", resp.StatusCode)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(snis) < 3 || snis[0] != "backend.test" || snis[len(snis)-1] != "other.test" {
		t.Errorf("SNI sent = %v", snis)
	}
	_, logs := r.settle(t)
	if len(logs) != 3 || logs[0].err == nil || !strings.Contains(logs[0].err.Error(), "certificate") {
		t.Errorf("logs = %+v, want the certificate failure reported", logs)
	}
}

func TestWebSocketEchoThroughProxy(t *testing.T) {
	backend := newCountingBackend(t, websocket.Handler(func(ws *websocket.Conn) {
		io.Copy(ws, ws)
	}))
	phases := &testPhases{peers: []proxy.Peer{peerOf(t, backend.Server, proxy.SchemeHTTP1)}}
	r := newRig(t, phases, proxy.Options{}, nil)

	ws, err := websocket.Dial("ws://"+r.addr+"/echo", "", "http://"+r.addr+"/")
	if err != nil {
		t.Fatalf("dial through proxy: %v", err)
	}
	for _, msg := range []string{"hello", "through", strings.Repeat("big ", 20000)} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		// The echo server may answer a big message in several frames.
		got := ""
		for len(got) < len(msg) {
			var part string
			if err := websocket.Message.Receive(ws, &part); err != nil {
				t.Fatal(err)
			}
			got += part
		}
		if got != msg {
			t.Fatalf("echo = %.40q, want %.40q", got, msg)
		}
	}
	ws.Close()
	_, logs := r.settle(t)
	if len(logs) != 1 || logs[0].status != http.StatusSwitchingProtocols || logs[0].bytes < 80000 {
		t.Errorf("logs = %+v, want one 101 that counted the echoed bytes", logs)
	}
}

func TestWebSocketToH2CPeerUsesHTTP1(t *testing.T) {
	// An h2c peer that also speaks HTTP/1.1 (as Go's does) gets upgrades over HTTP/1.1.
	backend := httptest.NewUnstartedServer(websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	backend.Config.Protocols = new(http.Protocols)
	backend.Config.Protocols.SetHTTP1(true)
	backend.Config.Protocols.SetUnencryptedHTTP2(true)
	backend.Start()
	t.Cleanup(backend.Close)
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend, proxy.SchemeH2C)}}, proxy.Options{}, nil)
	ws, err := websocket.Dial("ws://"+r.addr+"/", "", "http://"+r.addr+"/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	websocket.Message.Send(ws, "ping")
	var got string
	if err := websocket.Message.Receive(ws, &got); err != nil || got != "ping" {
		t.Fatalf("echo = %q, %v", got, err)
	}
}

func TestGRPCStyleTrailersOverH2EndToEnd(t *testing.T) {
	backend := newH2CBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Header.Get("Te") != "trailers" || r.Header.Get("Content-Type") != "application/grpc" {
			http.Error(w, fmt.Sprintf("bad request: %s te=%q", r.Proto, r.Header.Get("Te")), 400)
			return
		}
		msg, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "X-Declared")
		w.WriteHeader(200)
		w.Write(append([]byte("echo:"), msg...))
		w.Header().Set("X-Declared", "yes")
		// gRPC servers send trailers they never declared.
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
		w.Header().Set(http.TrailerPrefix+"Grpc-Message", "req-trailer="+r.Trailer.Get("X-Req-Checksum"))
	}))
	r := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend, proxy.SchemeH2C)}}, proxy.Options{}, nil)

	pr, pw := io.Pipe()
	req := mustRequest(t, "POST", r.url+"/pkg.Svc/Method", pr)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Trailer = http.Header{"X-Req-Checksum": nil}
	go func() {
		io.WriteString(pw, "payload")
		req.Trailer.Set("X-Req-Checksum", "abc123")
		pw.Close()
	}()
	resp, body := get(t, h2cClient(), req)
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || body != "echo:payload" {
		t.Fatalf("got %d %s %q", resp.StatusCode, resp.Proto, body)
	}
	want := map[string]string{"Grpc-Status": "0", "Grpc-Message": "req-trailer=abc123", "X-Declared": "yes"}
	for k, v := range want {
		if got := resp.Trailer.Get(k); got != v {
			t.Errorf("trailer %s = %q, want %q (trailers %v)", k, got, v, resp.Trailer)
		}
	}
}
