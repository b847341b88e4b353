package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawBackend answers every request with a fixed 200 and records the
// request target of each head it received and what is wrong with its raw
// bytes: a proxy must never forward a header line that is folded, carries a
// bare CR or LF or a NUL, nor a path that escapes its route with dot
// segments.
type rawBackend struct {
	mu       sync.Mutex
	problems []string
	targets  []string
}

func startRawBackend(t testing.TB) (*rawBackend, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b := &rawBackend{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b, l.Addr().String()
}

func (b *rawBackend) serve(c net.Conn) {
	defer c.Close()
	head, err := readHead(bufio.NewReader(c))
	if err != nil {
		return
	}
	b.record(head)
	if p := headProblem(head); p != "" {
		b.report("%s in %q", p, head)
	}
	c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
	// Read what else the proxy sent (a body) until it closes, so that
	// closing does not reset the connection under the response.
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, c)
	}
}

// readHead returns the raw bytes up to and including the empty line.
func readHead(r *bufio.Reader) ([]byte, error) {
	var head []byte
	for len(head) < 1<<20 {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		head = append(head, line...)
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return head, nil
		}
	}
	return nil, fmt.Errorf("head over 1 MiB")
}

func headProblem(head []byte) string {
	if bytes.IndexByte(head, 0) >= 0 {
		return "NUL byte"
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(head, []byte("\r\n\r\n")), []byte("\r\n")) {
		switch {
		case bytes.ContainsAny(line, "\r\n"):
			return "bare CR or LF"
		case i > 0 && len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			return "folded header line"
		case i == 0:
			target := string(bytes.Fields(line)[min(1, len(bytes.Fields(line))-1)])
			path, _, _ := strings.Cut(target, "?")
			if p := pathProblem(path); p != "" {
				return p
			}
		}
	}
	return ""
}

// pathProblem: dot segments, also with path parameters ("..;", which
// Tomcat and Jetty resolve), and backslashes (IIS's separator), encoded or
// not, would let a backend resolve a path outside the route it matched. An
// encoded slash separates nothing.
func pathProblem(path string) string {
	for _, seg := range strings.Split(path, "/") {
		if decoded, err := url.PathUnescape(seg); err == nil {
			seg = decoded
		}
		name, _, params := strings.Cut(seg, ";")
		switch {
		case strings.Contains(seg, `\`):
			return "backslash in the forwarded path"
		case (name == "." || name == "..") && params:
			return "dot segment with parameters in the forwarded path"
		case name == "." || name == "..":
			return "dot segment in the forwarded path"
		}
	}
	return ""
}

func (b *rawBackend) report(format string, args ...any) {
	b.mu.Lock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

func (b *rawBackend) record(head []byte) {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	target := string(line)
	if f := bytes.Fields(line); len(f) > 1 {
		target = string(f[1])
	}
	b.mu.Lock()
	b.targets = append(b.targets, target)
	b.mu.Unlock()
}

// takeTargets returns the request targets received since the last call.
func (b *rawBackend) takeTargets() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.targets
	b.targets = nil
	return t
}

func (b *rawBackend) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// FuzzProxyRequest feeds whatever net/http parses as a request to the
// proxy, which forwards it to a real backend over TCP. The proxy must not
// panic, must answer with a real status, and must forward nothing that
// could be read as another request or header by the upstream.
func FuzzProxyRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a/%2e%2e/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /public/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /public/%2e%2e;x/admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /public\\..\\admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /public/%5C../admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a;v=1/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a%2Fb?x=%0d%0aInjected:%201 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Secret, close\r\nX-Secret: 1\r\nUpgrade: websocket\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://other/abs HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	backend, handler := fuzzRig(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // refused before any handler (see pkg/dataplane/h1's fuzz)
		}
		req.RemoteAddr = "127.0.0.1:1"
		rec := httptest.NewRecorder()
		serveRecovering(t, handler, rec, req)
		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if problems := backend.take(); len(problems) > 0 {
			t.Fatalf("forwarded upstream: %v", problems)
		}
	})
}

// fuzzRig is a proxy routing every host and path to a raw backend.
func fuzzRig(t testing.TB) (*rawBackend, http.Handler) {
	backend, addr := startRawBackend(t)
	s := snapshotTo(1, addr)
	s.Hosts[0].Name = ""
	dp := New(Options{})
	if err := dp.Apply(s); err != nil {
		t.Fatal(err)
	}
	return backend, dp.Handler()
}

// serveRecovering serves req; the only panic allowed is the proxy's way of
// cutting a response it cannot finish.
func serveRecovering(t *testing.T, h http.Handler, w http.ResponseWriter, req *http.Request) {
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			t.Fatalf("panic: %v", v)
		}
	}()
	h.ServeHTTP(w, req)
}

// The fuzz oracle must be able to fail.
func TestHeadProblemFlags(t *testing.T) {
	for head, want := range map[string]string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n":                     "",
		"GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n":               "dot segment in the forwarded path",
		"GET /./b HTTP/1.1\r\nHost: a\r\n\r\n":                  "dot segment in the forwarded path",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n":          "folded header line",
		"GET / HTTP/1.1\r\nX: a\nInjected: 1\r\n\r\n":           "bare CR or LF",
		"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n":                   "NUL byte",
		"GET /..%2f HTTP/1.1\r\nHost: a\r\n\r\n":                "",
		"GET /a?x=/../ HTTP/1.1\r\nHost: a\r\n\r\n":             "",
		"GET /a/...b/c HTTP/1.1\r\nHost: a\r\n\r\n":             "",
		"GET /a/b/.. HTTP/1.1\r\nHost: a\r\n\r\n":               "dot segment in the forwarded path",
		"GET /a/b/. HTTP/1.1\r\nHost: a\r\n\r\n":                "dot segment in the forwarded path",
		"GET /a/..;/b HTTP/1.1\r\nHost: a\r\n\r\n":              "dot segment with parameters in the forwarded path",
		"GET /a/%2e;x/b HTTP/1.1\r\nHost: a\r\n\r\n":            "dot segment with parameters in the forwarded path",
		"GET /a/%2E%2E/b HTTP/1.1\r\nHost: a\r\n\r\n":           "dot segment in the forwarded path",
		"GET /a%5Cb HTTP/1.1\r\nHost: a\r\n\r\n":                "backslash in the forwarded path",
		"GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n":                 "backslash in the forwarded path",
		"GET /a;v=1/b;jsessionid=x HTTP/1.1\r\nHost: a\r\n\r\n": "",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n":                 "",
		"GET / HTTP/1.1\r\nHost: a\r\nX:\tb\r\n\r\n":            "",
		"GET / HTTP/1.1\r\nHost: a\r\n\tX: b\r\n\r\n":           "folded header line",
		"GET / HTTP/1.1\r\nHost: a\r\nX: b\rY: c\r\n\r\n":       "bare CR or LF",
	} {
		if got := headProblem([]byte(head)); got != want {
			t.Errorf("%q: %q, want %q", head, got, want)
		}
	}
}

// The fuzz rig forwards for real: a plain request reaches the raw backend.
func TestFuzzRigForwards(t *testing.T) {
	_, handler := fuzzRig(t)
	req := httptest.NewRequest("GET", "/a/../b", nil)
	rec := httptest.NewRecorder()
	serveRecovering(t, handler, rec, req)
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Fatalf("got %d %q, want the backend's 200 ok", rec.Code, rec.Body.String())
	}
}
