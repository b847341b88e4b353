package proxy_test

import (
	"io"
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
