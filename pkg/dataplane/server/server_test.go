package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/logtest"
)

func TestCleartextServesH1AndH2C(t *testing.T) {
	s := start(t, server.Options{}, cleartext("http", hello("svc")))
	url := "http://" + s.Addr("http").String()
	if _, body := getBody(t, h1Client(), url); body != "svc HTTP/1.1" {
		t.Errorf("h1 client got %q", body)
	}
	if _, body := getBody(t, h2cClient(), url); body != "svc HTTP/2.0" {
		t.Errorf("h2c client got %q", body)
	}
}

func TestTLSListenerNegotiatesByALPNAndRefusesOldTLS(t *testing.T) {
	cert, pool := newCert(t, "ingress.test")
	svc := server.Service{Name: "svc", Handler: hello("svc"), Listeners: []server.Listener{{
		Name: "https", Addr: "127.0.0.1:0",
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10}, // raised to 1.2
	}}}
	s := start(t, server.Options{}, svc)
	url := "https://" + s.Addr("https").String()
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "ingress.test"}

	// Each client gets its own config: net/http adds "h2" to the one it is given.
	h2 := &http.Client{Timeout: safety, Transport: &http.Transport{TLSClientConfig: clientTLS.Clone(), ForceAttemptHTTP2: true}}
	if resp, body := getBody(t, h2, url); resp.Proto != "HTTP/2.0" || body != "svc HTTP/2.0" {
		t.Errorf("h2 client: %s %q", resp.Proto, body)
	}
	h1 := &http.Client{Timeout: safety, Transport: &http.Transport{TLSClientConfig: clientTLS.Clone()}}
	if resp, body := getBody(t, h1, url); resp.Proto != "HTTP/1.1" || body != "svc HTTP/1.1" {
		t.Errorf("h1 client: %s %q", resp.Proto, body)
	}

	old := clientTLS.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	conn, err := tls.Dial("tcp", s.Addr("https").String(), old)
	if err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
}

func TestStartRefusesBadConfigurationAndLeavesNothingOpen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	cases := map[string][]server.Service{
		"duplicate names":         {{Name: "a", Handler: hello("a"), Listeners: []server.Listener{{Name: "x", Addr: "127.0.0.1:0"}, {Name: "x", Addr: "127.0.0.1:0"}}}},
		"no handler":              {{Name: "a", Listeners: []server.Listener{{Name: "x", Addr: "127.0.0.1:0"}}}},
		"tls without certificate": {{Name: "a", Handler: hello("a"), Listeners: []server.Listener{{Name: "x", Addr: "127.0.0.1:0", TLS: &tls.Config{}}}}},
		"address in use": {{Name: "a", Handler: hello("a"), Listeners: []server.Listener{
			{Name: "first", Addr: freeAddr}, {Name: "second", Addr: busy.Addr().String()}}}},
	}
	for name, services := range cases {
		t.Run(name, func(t *testing.T) {
			s := server.New(server.Options{Logger: logtest.Logger(t)}, services...)
			if err := s.Start(); err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			} else {
				t.Log(err)
			}
		})
	}
	// The listener opened before the failing one was closed again.
	l, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("%s is still held after a failed Start: %v", freeAddr, err)
	}
	l.Close()
}

func TestShutdownFinishesInFlightAndRefusesNewConnections(t *testing.T) {
	b := newBlocker()
	s := start(t, server.Options{}, cleartext("http", b))
	addr := s.Addr("http").String()

	// A keep-alive connection that served a request and is now idle:
	// Shutdown should close it.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.SetDeadline(time.Now().Add(safety))
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	b.waitEntered(t)
	b.release <- struct{}{}
	idleReader := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleReader, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	} else {
		io.ReadAll(io.LimitReader(resp.Body, resp.ContentLength))
	}

	inflight := goGet(h1Client(), "http://"+addr)
	b.waitEntered(t)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()

	waitRefused(t, addr)
	if _, err := idleReader.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: read = %v, want EOF from the server closing it", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	close(b.release)
	if r := await(t, inflight); r.err != nil || r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(safety):
		t.Fatal("Shutdown did not return after the last request finished")
	}
}

func TestShutdownCutShortByContextStopsEverything(t *testing.T) {
	b := newBlocker()
	s := start(t, server.Options{}, cleartext("http", b))
	inflight := goGet(h1Client(), "http://"+s.Addr("http").String())
	b.waitEntered(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline", err)
	}
	if r := await(t, inflight); r.err == nil && r.body == "finished" {
		t.Fatalf("request finished normally after a forced stop: %+v", r)
	}
}

func TestHijackedConnectionsDrainAndAreClosedOnClose(t *testing.T) {
	var release chan struct{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		brw.Flush()
		select {
		case <-release:
			brw.WriteString("bye")
			brw.Flush()
		case <-r.Context().Done(): // the server's fast stop
		}
	})
	dial := func(s *server.Server) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(safety))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		return c, br
	}

	t.Run("shutdown waits", func(t *testing.T) {
		release = make(chan struct{})
		s := start(t, server.Options{}, cleartext("http", h))
		c, br := dial(s)
		defer c.Close()
		done := make(chan error, 1)
		go func() { done <- s.Shutdown(context.Background()) }()
		waitFor(t, "the listener to close", func() bool {
			c, err := net.Dial("tcp", s.Addr("http").String())
			if err == nil {
				c.Close()
			}
			return err != nil
		})
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned (%v) with an upgraded connection in use", err)
		default:
		}
		close(release)
		if rest, _ := io.ReadAll(br); string(rest) != "bye" {
			t.Fatalf("tunnel got %q", rest)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("close ends them", func(t *testing.T) {
		release = make(chan struct{})
		s := start(t, server.Options{}, cleartext("http", h))
		c, br := dial(s)
		defer c.Close()
		s.Close()
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("read after Close = %v, want EOF", err)
		}
	})
}

// TestStopAcceptingKeepsQueuedConnectionsForTheSuccessor is the handoff: the
// old server stops accepting, clients keep connecting (into the kernel's
// queue), and a new server on the same socket serves all of them.
func TestStopAcceptingKeepsQueuedConnectionsForTheSuccessor(t *testing.T) {
	successors := map[string]func(t *testing.T, l net.Listener) net.Listener{
		"same listener object": func(t *testing.T, l net.Listener) net.Listener { return l },
		"duplicated descriptor, as a handoff passes it": func(t *testing.T, l net.Listener) net.Listener {
			f, err := l.(*net.TCPListener).File()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			dup, err := net.FileListener(f)
			if err != nil {
				t.Fatal(err)
			}
			return dup
		},
	}
	for name, handOver := range successors {
		t.Run(name, func(t *testing.T) {
			old := start(t, server.Options{}, cleartext("http", hello("old")))
			addr := old.Addr("http").String()
			if _, body := getBody(t, h1Client(), "http://"+addr); body != "old HTTP/1.1" {
				t.Fatalf("before: %q", body)
			}
			old.StopAccepting()

			const queued = 5
			conns := make([]net.Conn, queued)
			for i := range conns {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatalf("connection %d refused after StopAccepting: %v", i, err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(safety))
				fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", i)
				conns[i] = c
			}

			next := start(t, server.Options{Inherited: map[string]net.Listener{"http": handOver(t, old.Listeners()["http"])}},
				cleartext("http", hello("new")))
			if err := old.Shutdown(context.Background()); err != nil {
				t.Fatalf("old Shutdown: %v", err)
			}
			for i, c := range conns {
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("queued connection %d was lost: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if string(body) != "new HTTP/1.1" {
					t.Errorf("queued connection %d served by %q, want the successor", i, body)
				}
			}
			if _, body := getBody(t, h1Client(), "http://"+next.Addr("http").String()); body != "new HTTP/1.1" {
				t.Errorf("after the handoff: %q", body)
			}
		})
	}
}

func TestInheritedListenerOnAnotherPortIsReplaced(t *testing.T) {
	stale, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probe, _ := net.Listen("tcp", "127.0.0.1:0")
	want := probe.Addr().String()
	probe.Close()
	s := start(t, server.Options{Inherited: map[string]net.Listener{"http": stale, "gone": mustListen(t)}},
		server.Service{Name: "svc", Handler: hello("svc"), Listeners: []server.Listener{{Name: "http", Addr: want}}})
	if got := s.Addr("http").String(); got != want {
		t.Fatalf("listening on %s, want the configured %s", got, want)
	}
	if _, err := net.Dial("tcp", stale.Addr().String()); err == nil {
		t.Error("the stale inherited listener is still open")
	}
}

func mustListen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestListenersAndAddr(t *testing.T) {
	s := start(t, server.Options{}, server.Service{Name: "svc", Handler: hello("svc"), Listeners: []server.Listener{
		{Name: "a", Addr: "127.0.0.1:0"}, {Name: "b", Addr: "127.0.0.1:0"}}})
	ls := s.Listeners()
	if len(ls) != 2 || ls["a"].Addr().String() != s.Addr("a").String() || s.Addr("missing") != nil {
		t.Fatalf("Listeners = %v", ls)
	}
	if _, ok := ls["a"].(*net.TCPListener); !ok {
		t.Errorf("Listeners()[a] is %T; a handoff needs the raw socket", ls["a"])
	}
	if !strings.HasPrefix(s.Addr("b").String(), "127.0.0.1:") {
		t.Errorf("Addr(b) = %v", s.Addr("b"))
	}
}

// A keep-alive connection idle when the drain starts may carry a request
// at any moment; closing it then would reset that request. It gets its
// answer, marked Connection: close, and only then the connection ends.
func TestDrainAnswersIdleKeepAliveThenCloses(t *testing.T) {
	s := start(t, server.Options{}, cleartext("http", hello("svc")))
	addr := s.Addr("http").String()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(safety))
	rd := bufio.NewReader(conn)
	if resp := roundTrip(t, conn, rd); resp.Close {
		t.Fatal("first response already closes the connection")
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	waitRefused(t, addr)
	resp := roundTrip(t, conn, rd)
	if !resp.Close { // net/http reads "Connection: close" into Close
		t.Error("response during the drain does not close the connection")
	}
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last response: read = %v, want EOF", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func roundTrip(t *testing.T, conn net.Conn, rd *bufio.Reader) *http.Response {
	t.Helper()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("write on the keep-alive connection: %v", err)
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "svc HTTP/1.1" {
		t.Fatalf("body %q, %v", body, err)
	}
	return resp
}

// waitRefused waits until nothing accepts connections on addr any more.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	waitFor(t, "new connections to be refused", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// HTTP/2 over TLS hands the handler the connection's TLS state (the proxy
// derives X-Forwarded-Proto and client certificates from it), whatever
// wraps the connection underneath x/net/http2.
func TestH2OverTLSRequestCarriesTLSState(t *testing.T) {
	cert, pool := newCert(t, "ingress.test")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete || r.TLS.NegotiatedProtocol != "h2" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	svc := server.Service{Name: "svc", Handler: h, Listeners: []server.Listener{{
		Name: "https", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
	}}}
	s := start(t, server.Options{}, svc)
	h2 := &http.Client{Timeout: safety, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "ingress.test"}, ForceAttemptHTTP2: true}}
	if resp, _ := getBody(t, h2, "https://"+s.Addr("https").String()); resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 {
		t.Errorf("h2 over TLS: %s %d, want HTTP/2.0 200 (the handler saw the TLS state)", resp.Proto, resp.StatusCode)
	}
}
