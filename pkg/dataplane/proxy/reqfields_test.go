package proxy_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// TestRequestFieldsKeepCaseAndOrder: the upstream gets the client's
// end-to-end field lines exactly as sent (names' case, order, a repeated
// name's lines where they came), as nginx forwards a request's (it copies
// each line of headers_in as received), without the hop-by-hop ones, those
// Connection names, and the forwarding fields an untrusted client sent;
// the proxy's forwarding fields come after them, in a fixed order. Over
// keep-alive, so that the reused storage is checked too.
func TestRequestFieldsKeepCaseAndOrder(t *testing.T) {
	seen := make(chan []string, 4)
	backend := orderBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", seen)
	rg := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}}, proxy.Options{}, nil)
	conn, br := dialRaw(t, rg.addr, safety)
	head := "GET /p?q=1 HTTP/1.1\r\nhost: a.test\r\n" +
		"x-first: 1\r\n" +
		"Connection: X-Hop, keep-alive\r\n" +
		"X-HOP: gone\r\n" +
		"accept: */*\r\n" +
		"x-forwarded-for: 203.0.113.9\r\n" +
		"KEEP-ALIVE: timeout=5\r\n" +
		"User-AGENT: raw\r\n" +
		"X_Forwarded_For: 203.0.113.10\r\n" +
		"X-First: 2\r\n" +
		"cookie: a=1\r\n\r\n"
	client := []string{"x-first: 1", "accept: */*", "User-AGENT: raw", "X-First: 2", "cookie: a=1"}
	forwarding := []string{"X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Request-Id"}
	for i := range 2 {
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		if status, _ := rawHeadLines(t, br); !strings.Contains(status, " 200 ") {
			t.Fatalf("request %d: status line %q", i, status)
		}
		if _, err := io.ReadFull(br, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		lines := within(t, "the forwarded request", safety, seen)
		if len(lines) != 1+len(client)+len(forwarding) {
			t.Fatalf("request %d: upstream got\n%q\nwant Host, %q, then %q", i, lines, client, forwarding)
		}
		if lines[0] != "Host: a.test" {
			t.Errorf("request %d: first line %q, want Host", i, lines[0])
		}
		if got := lines[1 : 1+len(client)]; !slices.Equal(got, client) {
			t.Errorf("request %d: client's fields\n%q\nwant\n%q", i, got, client)
		}
		var names []string
		for _, l := range lines[1+len(client):] {
			name, _, _ := strings.Cut(l, ":")
			names = append(names, name)
		}
		if !slices.Equal(names, forwarding) {
			t.Errorf("request %d: fields after the client's %q, want %q", i, names, forwarding)
		}
		if !slices.Contains(lines, "X-Forwarded-For: 127.0.0.1") || !slices.Contains(lines, "X-Forwarded-Host: a.test") {
			t.Errorf("request %d: forwarding fields %q", i, lines)
		}
	}
}

// TestRequestFieldsAcrossProtocols: an HTTP/2 client's fields (a header
// map) reach an HTTP/1 upstream as field lines, and an HTTP/1 client's
// field lines reach an HTTP/2 upstream (a header map again), with the
// forwarding fields and a phase's field either way.
func TestRequestFieldsAcrossProtocols(t *testing.T) {
	addField := func(_ *proxy.Session, r *proxy.Request) error {
		r.Header.Add("X-Phase", "yes")
		return nil
	}
	t.Run("h2c client, HTTP/1 upstream", func(t *testing.T) {
		seen := make(chan []string, 1)
		backend := orderBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", seen)
		rg := newRig(t, &testPhases{peers: []proxy.Peer{backend.peer}, upstreamRequest: addField}, proxy.Options{}, nil)
		req := mustRequest(t, "GET", rg.url+"/a", nil)
		req.Header.Set("X-Client", "c")
		if resp, _ := get(t, h2cClient(), req); resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 {
			t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
		}
		lines := within(t, "the forwarded request", safety, seen)
		for _, want := range []string{"X-Client: c", "X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: http", "X-Phase: yes"} {
			if !slices.Contains(lines, want) {
				t.Errorf("upstream got %q, want %q among them", lines, want)
			}
		}
	})
	t.Run("HTTP/1 client, h2c upstream", func(t *testing.T) {
		seen := make(chan http.Header, 1)
		backend := newH2CBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen <- r.Header.Clone()
		}))
		rg := newRig(t, &testPhases{peers: []proxy.Peer{peerOf(t, backend, proxy.SchemeH2C)}, upstreamRequest: addField}, proxy.Options{}, nil)
		conn, br := dialRaw(t, rg.addr, safety)
		if _, err := io.WriteString(conn, "GET /a HTTP/1.1\r\nHost: a.test\r\nx-client: c\r\nConnection: X-Gone\r\nX-Gone: 1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if status, _ := rawHeadLines(t, br); !strings.Contains(status, " 200 ") {
			t.Fatalf("status line %q", status)
		}
		h := within(t, "the forwarded request", safety, seen)
		want := map[string]string{"X-Client": "c", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "a.test", "X-Phase": "yes", "X-Gone": ""}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("%s = %q, want %q (all: %v)", k, got, v, h)
			}
		}
	})
}
