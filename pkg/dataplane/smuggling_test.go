package dataplane

import (
	"bufio"
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
//
// Not covered yet, because net/http accepts them before Baton sees the
// request: Content-Length together with Transfer-Encoding (chunked wins and
// Content-Length is dropped) and obs-fold (unfolded). Baton re-frames what
// it forwards, so the upstream cannot be desynchronised, but the issue asks
// for a 400; that needs a header pre-check below net/http.
func TestRequestSmugglingIsRejected(t *testing.T) {
	rec := &recordingBackend{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	s := snapshotTo(1, strings.TrimPrefix(srv.URL, "http://"))
	s.Hosts[0].Name = ""
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0", MaxHeaderBytes: 8 << 10}, s)
	addr := dp.Addr(ListenerHTTP).String()
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
			status := rawExchange(t, addr, raw)
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

// rawExchange writes raw and returns the status of the first response, or
// 0 when the connection closed without one.
func rawExchange(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
