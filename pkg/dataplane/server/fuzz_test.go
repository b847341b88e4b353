package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// seen is one request as a handler saw it, or as net/http reads it.
type seen struct{ method, target, body string }

// recorder records every request; under /skip it leaves the body unread,
// which the server must then step over by the same framing.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{method: r.Method, target: r.RequestURI}
	if !strings.HasPrefix(r.URL.Path, "/skip") {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		s.body = string(b)
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, s)
	rec.mu.Unlock()
	io.WriteString(w, "ok")
}

func (rec *recorder) take() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.reqs
	rec.reqs = nil
	return out
}

// netHTTPReads is what net/http reads from stream, request by request,
// skipping empty lines before each as the server does (RFC 9112 §2.2).
func netHTTPReads(stream string) []seen {
	br := bufio.NewReader(strings.NewReader(stream))
	var out []seen
	for {
		for {
			b, err := br.Peek(1)
			if err != nil || (b[0] != '\n' && b[0] != '\r') {
				break
			}
			br.Discard(1)
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return out
		}
		b, err := io.ReadAll(req.Body)
		s := seen{method: req.Method, target: req.RequestURI, body: string(b)}
		if strings.HasPrefix(req.URL.Path, "/skip") {
			// Served on its head: a body cut short only ends the stream.
			s.body = ""
			out = append(out, s)
		} else if err == nil {
			out = append(out, s)
		}
		if err != nil {
			return out
		}
	}
}

// FuzzServerAgainstNetHTTP sends a byte stream to a running server: the
// requests its handler sees are, in order, those net/http reads from the
// same bytes (the server may refuse earlier, never read differently), so
// no framing, pipelining or skipped body lets a request in that net/http
// would read as part of another.
func FuzzServerAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /skip HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /skip HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nGET\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nPOST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"\r\nGET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add(s)
	}
	rec := &recorder{}
	s := server.New(server.Options{ReadHeaderTimeout: 2 * time.Second, MaxHeaderBytes: 8 << 10}, cleartext("http", rec))
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	addr := s.Addr("http").String()
	f.Fuzz(func(t *testing.T, stream string) {
		if strings.HasPrefix(stream, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") {
			return // HTTP/2's to read
		}
		exchangeAll(t, addr, stream)
		got, want := rec.take(), netHTTPReads(stream)
		if len(got) > len(want) {
			t.Fatalf("handler saw %d requests, net/http reads %d: %+v", len(got), len(want), got)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("request %d: handler saw %+v, net/http reads %+v", i, got[i], want[i])
			}
		}
	})
}

// exchangeAll sends stream, half-closes and reads until the server closes.
func exchangeAll(t *testing.T, addr, stream string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(safety))
	go func() {
		io.WriteString(c, stream)
		c.(*net.TCPConn).CloseWrite()
	}()
	if _, err := io.Copy(io.Discard, c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading the answers: %v", err)
	}
}
