package proxy_test

import (
	"bufio"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// TestResponseFieldNamesOverOneConnection sends responses whose names
// change case and place from one response to the next over one client and
// one upstream connection, where the proxy reuses a response's storage
// and the keys of the one before. Each must come out under its canonical
// name, with same-named lines in the order sent (RFC 9110 §5.3; Set-Cookie
// lines are never combined) and nothing of the previous response's.
func TestResponseFieldNamesOverOneConnection(t *testing.T) {
	answers := []string{
		"Set-Cookie: a=1\r\nX-Test: one\r\nset-cookie: b=2\r\n",
		"X-Test: two\r\nSET-COOKIE: c=3\r\n",
		"x-test: three\r\nX-Other: 3\r\nX-OTHER: 4\r\nx-other: 5\r\n",
		"Set-Cookie: a=1\r\nX-Test: one\r\nset-cookie: b=2\r\n",
	}
	want := []map[string][]string{
		{"Set-Cookie": {"a=1", "b=2"}, "X-Test": {"one"}},
		{"X-Test": {"two"}, "Set-Cookie": {"c=3"}},
		{"X-Test": {"three"}, "X-Other": {"3", "4", "5"}},
		{"Set-Cookie": {"a=1", "b=2"}, "X-Test": {"one"}},
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
		got := map[string][]string{}
		for _, f := range h.Fields {
			if name := string(f.Name); strings.HasPrefix(name, "X-") || name == "Set-Cookie" || strings.EqualFold(name, "set-cookie") {
				got[name] = append(got[name], string(f.Value))
			}
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("response %d: fields %v, want %v", i, got, want[i])
		}
	}
	if n := backend.accepted.Load(); n != 1 {
		t.Errorf("%d upstream connections, want 1 (the storage is reused on one)", n)
	}
}
