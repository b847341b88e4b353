package proxy_test

import (
	"bufio"
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
// Each line must come out as sent, name in its case (as nginx and HAProxy
// forward an HTTP/1 response), in the order sent (RFC 9110 §5.3; Set-Cookie
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
	conn, err := net.Dial("tcp", startRawProxy(t, backend).String())
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
