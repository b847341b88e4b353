package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// TestResponseFieldNamesOverOneConnection sends responses whose names
// change case and place from one response to the next over one client and
// one upstream connection, where the proxy reuses a response's storage.
// Each line must come out as sent, name in its case (as nginx forwards an
// HTTP/1 response; HAProxy and Envoy lower-case names), in the order sent (RFC 9110 §5.3; Set-Cookie
// lines are never combined), with nothing of the previous response's.
func TestResponseFieldNamesOverOneConnection(t *testing.T) {
	answers := []string{
		"Set-Cookie: a=1\r\nX-Test: one\r\nset-cookie: b=2\r\n",
		"X-Test: two\r\nSET-COOKIE: c=3\r\n",
		"x-test: three\r\nX-Other: 3\r\nX-OTHER: 4\r\nx-other: 5\r\n",
		"Set-Cookie: a=1\r\nX-Test: one\r\nset-cookie: b=2\r\n",
	}
	next := 0
	backend := newScriptedBackend(t, answerEach(func(int64, *http.Request, []byte) (string, bool) {
		resp := "HTTP/1.1 200 OK\r\n" + answers[next] + "Content-Length: 0\r\n\r\n"
		next++
		return resp, false
	}))
	conn, err := net.Dial("tcp", startRawProxy(t, backend, false).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range answers {
		conn.SetDeadline(time.Now().Add(safety))
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		var h h1.Head
		if err := h1.ReadResponse(br, &h, 4096, "GET"); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range h.Fields {
			if name := string(f.Name); strings.HasPrefix(strings.ToLower(name), "x-") || strings.EqualFold(name, "set-cookie") {
				got = append(got, name+": "+string(f.Value))
			}
		}
		if want := strings.Split(strings.TrimSuffix(answers[i], "\r\n"), "\r\n"); !slices.Equal(got, want) {
			t.Errorf("response %d: fields %q, want %q", i, got, want)
		}
	}
	if n := backend.accepted.Load(); n != 1 {
		t.Errorf("%d upstream connections, want 1 (the storage is reused on one)", n)
	}
}

// TestResponseHopByHopFieldsRemovedInPlace: the client gets the
// upstream's end-to-end field lines exactly as sent (case, order, a
// repeated name's lines where they came) and none of the hop-by-hop ones:
// the fixed set, in any case, and those Connection names (RFC 9110
// §7.6.1). The proxy's own framing follows them.
func TestResponseHopByHopFieldsRemovedInPlace(t *testing.T) {
	head := "x-first: 1\r\n" +
		"connection: X-Hop, keep-alive\r\n" +
		"X-HOP: gone\r\n" +
		"Cache-control: no-store\r\n" +
		"KEEP-ALIVE: timeout=5\r\n" +
		"proxy-connection: keep-alive\r\n" +
		"Upgrade: h2c\r\n" +
		"set-cookie: a=1\r\n" +
		"Proxy-Authenticate: Basic\r\n" +
		"te: trailers\r\n" +
		"X-First: 2\r\n" +
		"Set-Cookie: b=2\r\n"
	backend := newScriptedBackend(t, answerEach(func(int64, *http.Request, []byte) (string, bool) {
		return "HTTP/1.1 200 OK\r\n" + head + "Content-Length: 2\r\n\r\nok", false
	}))
	conn, err := net.Dial("tcp", startRawProxy(t, backend, false).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(safety))
	br := bufio.NewReader(conn)
	for i := range 2 { // the second on the storage the first used
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		_, lines := rawHeadLines(t, br)
		if _, err := io.ReadFull(br, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		want := []string{"x-first: 1", "Cache-control: no-store", "set-cookie: a=1", "X-First: 2", "Set-Cookie: b=2", "Content-Length: 2"}
		if got := lines[:min(len(lines), len(want))]; !slices.Equal(got, want) {
			t.Errorf("response %d: fields\n%q\nwant them to begin with\n%q", i, lines, want)
		}
		for _, l := range lines[min(len(lines), len(want)):] {
			if name, _, _ := strings.Cut(l, ":"); !strings.EqualFold(name, "Date") {
				t.Errorf("response %d: field %q after the upstream's", i, l)
			}
		}
	}
}
