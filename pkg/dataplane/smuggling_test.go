package dataplane

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingBackend remembers the path of every request it receives.
type recordingBackend struct {
	mu    sync.Mutex
	paths []string
}

func (b *recordingBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	b.mu.Lock()
	b.paths = append(b.paths, r.URL.Path)
	b.mu.Unlock()
}

func (b *recordingBackend) saw(path string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.paths {
		if p == path {
			return true
		}
	}
	return false
}

// TestRequestSmugglingIsRejected sends ambiguous or malformed HTTP/1.1
// framing over raw TCP: each must get a 4xx/5xx answer (or a closed
// connection) and nothing smuggled behind it may reach the backend.
func TestRequestSmugglingIsRejected(t *testing.T) {
	rec, addr := smugglingRig(t)
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	tests := map[string]string{
		"two CLs":            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd" + smuggled,
		"bad chunk size":     "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n" + smuggled,
		"TE not chunked":     "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled,
		"space before colon": "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello" + smuggled,
		"oversized headers":  "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
		"bad request line":   "GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n" + smuggled,
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			status := rawExchange(t, plainDial(addr), raw)
			if status != 0 && status < 400 {
				t.Errorf("answered %d, want a 4xx/5xx or a closed connection", status)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if rec.saw("/smuggled") {
		t.Error("a smuggled request reached the backend")
	}
}

// TestAmbiguousFramingGets400 covers what net/http itself would accept:
// Content-Length with Transfer-Encoding (it would drop Content-Length) and
// obs-fold (it would unfold). Baton's HTTP/1 parser refuses both with
// 400, over cleartext and TLS, also as the second request of a keep-alive
// connection whose first request is served normally.
func TestAmbiguousFramingGets400(t *testing.T) {
	rec, addr, tlsAddr := smugglingRigTLS(t)
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	tests := map[string]string{
		"CL then TE": "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"TE then CL": "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" + smuggled,
		"obs-fold":   "GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n" + smuggled,
	}
	dials := map[string]func() (net.Conn, error){"cleartext": plainDial(addr), "TLS": tlsDial(tlsAddr)}
	for name, raw := range tests {
		for proto, dial := range dials {
			t.Run(name+" over "+proto, func(t *testing.T) {
				if got := rawExchange(t, dial, raw); got != http.StatusBadRequest {
					t.Errorf("answered %d, want 400", got)
				}
				first, second := keepAliveExchange(t, dial, "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"+raw)
				if first != http.StatusOK || second != http.StatusBadRequest {
					t.Errorf("keep-alive: %d then %d, want 200 then 400", first, second)
				}
			})
		}
	}
	time.Sleep(100 * time.Millisecond)
	if rec.saw("/smuggled") || rec.saw("/x") {
		t.Error("a refused or smuggled request reached the backend")
	}
	if !rec.saw("/first") {
		t.Errorf("the well-formed request before the refused one never reached the backend: %q", rec.paths)
	}
}

func smugglingRig(t *testing.T) (*recordingBackend, string) {
	rec, addr, _ := smugglingRigTLS(t)
	return rec, addr
}

func smugglingRigTLS(t *testing.T) (*recordingBackend, string, string) {
	t.Helper()
	rec := &recordingBackend{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	addr, tlsAddr := proxyTo(t, strings.TrimPrefix(srv.URL, "http://"))
	return rec, addr, tlsAddr
}

// proxyTo starts a data plane routing every host and path to upstream and
// returns its cleartext and TLS addresses.
func proxyTo(t *testing.T, upstream string) (string, string) {
	t.Helper()
	s := snapshotTo(1, upstream)
	s.Hosts[0].Name = ""
	fallback := certFor(t, "smuggle.test")
	s.DefaultCertificate = &fallback
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", MaxHeaderBytes: 8 << 10}, s)
	return dp.Addr(ListenerHTTP).String(), dp.Addr(ListenerHTTPS).String()
}

func plainDial(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.Dial("tcp", addr) }
}

func tlsDial(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		// Our own test server, with a throwaway certificate.
		return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "smuggle.test", NextProtos: []string{"http/1.1"}})
	}
}

// keepAliveExchange writes raw (two requests) on one connection and returns
// the status of both responses (0 for one that never came).
func keepAliveExchange(t *testing.T, dial func() (net.Conn, error), raw string) (int, int) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return 0, 0
	}
	rd := bufio.NewReader(c)
	var statuses [2]int
	for i := range statuses {
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses[i] = resp.StatusCode
	}
	return statuses[0], statuses[1]
}

// rawExchange writes raw and returns the status of the first response, or
// 0 when the connection closed without one.
func rawExchange(t *testing.T, dial func() (net.Conn, error), raw string) int {
	t.Helper()
	first, _ := keepAliveExchange(t, dial, raw)
	return first
}

// TestFramingTheGuardMisjudgedGets400 covers framing h1guard (the guard
// below net/http that pkg/dataplane/h1 replaced) once misread:
// where it stopped judging, or followed other message boundaries than
// net/http, every later request of the connection went through unjudged.
// Each request that must be refused gets 400 and the connection closes;
// the raw backend sees exactly the requests served before it, over
// cleartext and TLS, at the start of a connection and after a keep-alive
// request. Paths named /refused and /smuggled must never arrive.
func TestFramingTheGuardMisjudgedGets400(t *testing.T) {
	backend, upstream := startRawBackend(t)
	addr, tlsAddr := proxyTo(t, upstream)
	const (
		smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
		clAndTE  = "POST /refused HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled
		obsFold  = "GET /refused HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n" + smuggled
		post     = "POST /ok HTTP/1.1\r\nHost: a\r\n"
	)
	pad := strings.Repeat(" ", 40)
	tests := []struct {
		name   string
		raw    string   // ends with a request that must be refused
		served []string // the targets before it, which reach the backend
	}{
		// Only the complete HTTP/2 preface at the start of a connection
		// hands it to HTTP/2; net/http serves any other PRI line as HTTP/1.
		{"PRI line with fields", "PRI * HTTP/2.0\r\nHost: a\r\n\r\n" + clAndTE, nil},
		{"PRI line without the rest of the preface", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + obsFold, nil},
		// net/http ignores TE in HTTP/1.0 (no body here), the guard read a
		// chunked body: "DEAD" as a chunk size hid the requests after it.
		{"HTTP/1.0 with TE", "POST /refused HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"DEAD /smuggled HTTP/1.1\r\nHost: a\r\n\r\n" + clAndTE, nil},
		{"HTTP/1.0 with identity TE", "GET /refused HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: identity\r\n\r\n" + clAndTE, nil},
		// Spellings net/http accepts that the guard took for broken
		// framing and stopped judging after.
		{"TE padded with spaces", post + "Transfer-Encoding:  chunked" + pad + "\r\n\r\n0\r\n\r\n" + clAndTE, []string{"/ok"}},
		{"TE padded with tabs", post + "Transfer-Encoding:\tCHUNKED\t\t\r\n\r\n0\r\n\r\n" + obsFold, []string{"/ok"}},
		{"CL padded", post + "Content-Length: 5" + pad + "\r\n\r\nhello" + clAndTE, []string{"/ok"}},
		{"CL with leading zeros", post + "Content-Length: " + strings.Repeat("0", 30) + "5\r\n\r\nhello" + obsFold, []string{"/ok"}},
		{"16-digit chunk size", post + "Transfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n" + clAndTE, []string{"/ok"}},
		// Padded TE with CL, and TE a proxy must not pass on.
		{"padded TE and CL", "POST /refused HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: \tchunked " + pad + "\r\n\r\n0\r\n\r\n" + smuggled, nil},
		{"TE chunked twice", "POST /refused HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + smuggled, nil},
		{"two TE fields", "POST /refused HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, nil},
		{"TE gzip", "POST /refused HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled, nil},
	}
	dials := map[string]func() (net.Conn, error){"cleartext": plainDial(addr), "TLS": tlsDial(tlsAddr)}
	for _, tt := range tests {
		for proto, dial := range dials {
			t.Run(tt.name+" over "+proto, func(t *testing.T) {
				backend.takeTargets()
				assertRefusedAfter(t, backend, dial, tt.raw, tt.served)
				first := "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
				assertRefusedAfter(t, backend, dial, first+tt.raw, append([]string{"/first"}, tt.served...))
			})
		}
	}
}

// assertRefusedAfter writes raw on a new connection: the requests whose
// targets are served get 200 in turn, the next one 400, and then the
// connection closes; the backend must have received exactly served.
func assertRefusedAfter(t *testing.T, backend *rawBackend, dial func() (net.Conn, error), raw string, served []string) {
	t.Helper()
	statuses := exchangeAll(t, dial, raw)
	want := make([]int, len(served), len(served)+1)
	for i := range want {
		want[i] = http.StatusOK
	}
	want = append(want, http.StatusBadRequest)
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("answered %v, want %v then a close", statuses, want)
	}
	if got := backend.takeTargets(); fmt.Sprint(got) != fmt.Sprint(served) {
		t.Errorf("the backend received %q, want %q", got, served)
	}
}

// exchangeAll writes raw on a new connection and returns the status of
// every response until the server closes it (or 5s pass). A response is
// written only after the backend answered, so once this returns the
// backend has recorded every request that was forwarded.
func exchangeAll(t *testing.T, dial func() (net.Conn, error), raw string) []int {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	var statuses []int
	for {
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			return statuses
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
}

// TestAmbiguousPathsNeverReachTheBackend: paths that Tomcat, Jetty, Spring
// or IIS would resolve outside the route that matched ("..;" segments,
// backslashes) get 400 and are never forwarded; other ';' uses are.
func TestAmbiguousPathsNeverReachTheBackend(t *testing.T) {
	backend, upstream := startRawBackend(t)
	addr, _ := proxyTo(t, upstream)
	for _, path := range []string{"/public/..;/admin", "/public/%2e%2e;/admin", `/public\..\admin`,
		"/public/%5C../admin", "/.;/admin", "/public/..%3B/admin", "/public/%5c%2e%2e%5cadmin"} {
		if got := rawExchange(t, plainDial(addr), "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); got != http.StatusBadRequest {
			t.Errorf("%s: answered %d, want 400", path, got)
		}
		if got := backend.takeTargets(); len(got) > 0 {
			t.Errorf("%s: the backend received %q", path, got)
		}
	}
	for _, path := range []string{"/a;v=1/b", "/file;jsessionid=x"} {
		if got := rawExchange(t, plainDial(addr), "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); got != http.StatusOK {
			t.Errorf("%s: answered %d, want 200", path, got)
		}
		if got := backend.takeTargets(); len(got) != 1 || got[0] != path {
			t.Errorf("%s: the backend received %q", path, got)
		}
	}
}
