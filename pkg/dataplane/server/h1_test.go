package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// semantics answers by path, for the HTTP/1 engine's tests.
func semantics() http.Handler {
	mux := map[string]http.HandlerFunc{
		"/hello": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") },
		"/len": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "hi")
		},
		"/stream": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		},
		"/close": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		},
		"/204": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"/304": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10") // the length of what a 200 would carry
			w.WriteHeader(http.StatusNotModified)
		},
		"/trailer": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-T")
			io.WriteString(w, "x")
			w.Header().Set("X-T", "declared")
			w.Header().Set(http.TrailerPrefix+"X-U", "undeclared")
		},
		"/echo": func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Got-Trailer", r.Trailer.Get("X-T"))
			w.Write(b)
		},
		"/ignore-body": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") },
		// As net/http: a nil Date suppresses the one the server adds.
		"/no-date": func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil
			io.WriteString(w, "hi")
		},
		"/own-date": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", ownDate)
			io.WriteString(w, "hi")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mux[r.URL.Path](w, r) })
}

// exchange sends raw on a fresh connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) (net.Conn, *bufio.Reader, []*http.Response, []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(safety))
	io.WriteString(c, raw)
	rd := bufio.NewReader(c)
	var resps []*http.Response
	var bodies []string
	for range n {
		resp, err := http.ReadResponse(rd, &http.Request{Method: methodOf(raw, len(resps))})
		if err != nil {
			t.Fatalf("response %d: %v", len(resps), err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(resps), err)
		}
		resps, bodies = append(resps, resp), append(bodies, string(b))
	}
	return c, rd, resps, bodies
}

// methodOf is the method of the i-th request in raw (HEAD matters to
// reading its response).
func methodOf(raw string, i int) string {
	if strings.Count(raw, "HEAD ") > 0 && i == 0 && strings.HasPrefix(raw, "HEAD ") {
		return "HEAD"
	}
	return "GET"
}

// stillOpen asks once more on the connection; closed reports whether it
// was closed instead.
func stillOpen(t *testing.T, c net.Conn, rd *bufio.Reader) (open bool) {
	t.Helper()
	if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

const ownDate = "Sun, 06 Nov 1994 08:49:37 GMT"

// TestH1Semantics runs each case for a handler that reads the header map
// and for one that says it reads none (see server.HeaderMapReader): what
// the server itself reads of the fields (Expect, the trailers a chunked
// request declares) it reads from the list either way.
func TestH1Semantics(t *testing.T) {
	t.Run("with header map", func(t *testing.T) { testH1Semantics(t, semantics()) })
	t.Run("without header map", func(t *testing.T) { testH1Semantics(t, noHeaderMap{semantics()}) })
}

// noHeaderMap is a handler that says it reads no http.Request.Header.
type noHeaderMap struct{ http.Handler }

func (noHeaderMap) ReadsRequestHeader() bool { return false }

func testH1Semantics(t *testing.T, h http.Handler) {
	s := start(t, server.Options{}, cleartext("http", h))
	addr := s.Addr("http").String()
	const host = " HTTP/1.1\r\nHost: x\r\n"
	tests := []struct {
		name   string
		raw    string
		bodies []string
		check  func(rs []*http.Response) string // "" if fine
		open   bool
	}{
		{"keep-alive", "GET /hello" + host + "\r\nGET /hello" + host + "\r\n", []string{"hi", "hi"}, nil, true},
		{"small body gets a length", "GET /hello" + host + "\r\n", []string{"hi"},
			want(func(r *http.Response) bool { return r.ContentLength == 2 && r.TransferEncoding == nil }), true},
		{"a Date is added", "GET /hello" + host + "\r\n", []string{"hi"},
			want(func(r *http.Response) bool { return len(r.Header["Date"]) == 1 && r.Header.Get("Date") != "" }), true},
		{"a nil Date is not sent", "GET /no-date" + host + "\r\n", []string{"hi"},
			want(func(r *http.Response) bool { return r.Header["Date"] == nil }), true},
		{"the handler's Date is sent, once", "GET /own-date" + host + "\r\n", []string{"hi"},
			want(func(r *http.Response) bool { return slices.Equal(r.Header["Date"], []string{ownDate}) }), true},
		{"client asks to close", "GET /hello" + host + "Connection: close\r\n\r\n", []string{"hi"},
			want(func(r *http.Response) bool { return r.Close }), false},
		{"handler asks to close", "GET /close" + host + "\r\n", []string{"bye"},
			want(func(r *http.Response) bool { return r.Close }), false},
		{"HTTP/1.0 closes by default", "GET /hello HTTP/1.0\r\n\r\n", []string{"hi"}, nil, false},
		{"HTTP/1.0 keep-alive", "GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"hi"},
			want(func(r *http.Response) bool { return r.Header.Get("Connection") == "keep-alive" }), true},
		{"HTTP/1.0 stream ends with the connection", "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"ab"},
			want(func(r *http.Response) bool { return r.ContentLength == -1 && r.TransferEncoding == nil }), false},
		{"pipelined in order", "GET /len" + host + "\r\nPOST /echo" + host + "Content-Length: 4\r\n\r\necho" + "GET /stream" + host + "\r\n",
			[]string{"hi", "echo", "ab"}, nil, true},
		{"streamed body is chunked", "GET /stream" + host + "\r\n", []string{"ab"},
			want(func(r *http.Response) bool { return len(r.TransferEncoding) == 1 }), true},
		{"HEAD has no body", "HEAD /len" + host + "\r\n", []string{""},
			want(func(r *http.Response) bool { return r.ContentLength == 2 }), true},
		{"204 has no body", "GET /204" + host + "\r\n", []string{""},
			want(func(r *http.Response) bool { return r.StatusCode == 204 }), true},
		{"304 has no body", "GET /304" + host + "\r\n", []string{""},
			want(func(r *http.Response) bool { return r.StatusCode == 304 }), true},
		{"trailers, declared and not", "GET /trailer" + host + "\r\n", []string{"x"},
			want(func(r *http.Response) bool {
				return r.Trailer.Get("X-T") == "declared" && r.Trailer.Get("X-U") == "undeclared"
			}), true},
		{"chunked request with a trailer", "POST /echo" + host + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: t\r\n\r\n", []string{"abc"},
			want(func(r *http.Response) bool { return r.Header.Get("X-Got-Trailer") == "t" }), true},
		{"unread body is skipped", "POST /ignore-body" + host + "Content-Length: 5\r\n\r\nhello", []string{"ignored"}, nil, true},
		{"unknown expectation", "POST /echo" + host + "Expect: teapot\r\nContent-Length: 1\r\n\r\nx", []string{""},
			want(func(r *http.Response) bool { return r.StatusCode == http.StatusExpectationFailed && r.Close }), false},
		{"HTTP/1.0 gets no 100 Continue", "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", []string{"hi"},
			want(func(r *http.Response) bool { return r.StatusCode == 200 }), true},
		{"refused framing", "POST /echo" + host + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []string{""},
			want(func(r *http.Response) bool { return r.StatusCode == 400 && r.Close }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rd, resps, bodies := exchange(t, addr, tt.raw, len(tt.bodies))
			for i, b := range bodies {
				if tt.check == nil && resps[i].StatusCode != 200 {
					t.Errorf("response %d: %s", i, resps[i].Status)
				}
				if b != tt.bodies[i] && resps[i].StatusCode < 400 {
					t.Errorf("response %d: body %q, want %q", i, b, tt.bodies[i])
				}
			}
			if tt.check != nil {
				if msg := tt.check(resps); msg != "" {
					t.Error(msg)
				}
			}
			if open := stillOpen(t, c, rd); open != tt.open {
				t.Errorf("connection open %v, want %v", open, tt.open)
			}
		})
	}
}

// want checks the first response.
func want(ok func(*http.Response) bool) func([]*http.Response) string {
	return func(rs []*http.Response) string {
		if !ok(rs[0]) {
			return "unexpected response: " + rs[0].Status + " " + strings.Join(headerLines(rs[0]), "; ")
		}
		return ""
	}
}

func headerLines(r *http.Response) []string {
	var out []string
	for k, v := range r.Header {
		out = append(out, k+": "+strings.Join(v, ","))
	}
	return out
}

// A client that says "Expect: 100-continue" gets the 100 when the handler
// reads the body, and none when the handler answers without it; then the
// connection closes, since the client may or may not send the body.
func TestExpectContinue(t *testing.T) {
	s := start(t, server.Options{}, cleartext("http", semantics()))
	addr := s.Addr("http").String()
	head := " HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"

	c, rd, _, _ := exchange(t, addr, "POST /echo"+head, 0)
	cont, err := http.ReadResponse(rd, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("before the body: %v %v, want 100 Continue", cont, err)
	}
	io.WriteString(c, "body")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the body: %v %v", resp, err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "body" {
		t.Errorf("echoed %q", b)
	}

	c, rd, resps, bodies := exchange(t, addr, "POST /ignore-body"+head, 1)
	if resps[0].StatusCode != 200 || bodies[0] != "ignored" || !resps[0].Close {
		t.Errorf("body not read: %s %q close %v, want 200 without a 100, then close", resps[0].Status, bodies[0], resps[0].Close)
	}
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the answer: %v, want EOF", err)
	}
	_ = c
}

// A head that came whole is read without a read deadline of its own, so
// the one the wait for it set (the idle grace, 200 ms) is still on the
// connection: the body, which has no deadline, must not run into it.
func TestBodyOfBufferedHeadHasNoLeftOverDeadline(t *testing.T) {
	s := start(t, server.Options{}, cleartext("http", semantics()))
	c, rd, _, _ := exchange(t, s.Addr("http").String(), "", 0)
	for range 3 { // the third request waits with the idle grace
		if !stillOpen(t, c, rd) {
			t.Fatal("keep-alive request failed")
		}
	}
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
	time.Sleep(400 * time.Millisecond) // a slow body is what is tested
	io.WriteString(c, "body")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("slow body after a buffered head: %v %v, want 200", resp, err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "body" {
		t.Errorf("echoed %q, want \"body\"", b)
	}
}

// TestKeptRequestStringsSurviveLaterRequests: a handler may keep a
// request's strings (a pool key made from the Host, a log line sent
// later); the connection's next requests, whose heads are cut from the
// same chunk, must not change them.
func TestKeptRequestStringsSurviveLaterRequests(t *testing.T) {
	var mu sync.Mutex // the race detector does not see the network order
	var kept []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		kept = append(kept, r.URL.Path, r.Host, r.Header.Get("X-Seq"))
	})
	s := start(t, server.Options{}, cleartext("h", h))
	const n = 200 // several chunks' worth
	var raw strings.Builder
	for i := range n {
		fmt.Fprintf(&raw, "GET /p%d HTTP/1.1\r\nHost: h%d.test\r\nX-Seq: %d\r\n\r\n", i, i, i)
	}
	exchange(t, s.Addr("h").String(), raw.String(), n)
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		want := []string{fmt.Sprintf("/p%d", i), fmt.Sprintf("h%d.test", i), strconv.Itoa(i)}
		if got := kept[3*i : 3*i+3]; !slices.Equal(got, want) {
			t.Fatalf("request %d's strings became %q, want %q", i, got, want)
		}
	}
}

// TestRequestHostAsNetHTTP: r.Host is the target's authority if it has
// one, else the Host field (empty or absent: ""), and Host is never in
// r.Header, as with net/http's server.
func TestRequestHostAsNetHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%q %v", r.Host, r.Header["Host"]))
	})
	s := start(t, server.Options{}, cleartext("h", h))
	raw := "GET / HTTP/1.1\r\nhost: a.test\r\n\r\n" +
		"GET http://abs.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost:\r\n\r\n" +
		"GET / HTTP/1.1\r\nX-A: 1\r\nHOST: c.test:8080\r\n\r\n" +
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	exchange(t, s.Addr("h").String(), raw, 5)
	want := []string{`"a.test" []`, `"abs.test" []`, `"" []`, `"c.test:8080" []`, `"" []`}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("hosts %q, want %q", got, want)
	}
}

// SetFields hands the HTTP/1 response a list of fields (the proxy's
// upstream response's): they are written first, in order and spelled as
// given, then the header map's; the server's framing fields are its own
// (a Transfer-Encoding is not sent, an invalid Content-Length neither, a
// Date is not added when there is one); a field not Checked that could
// split the head is left out; once the status is written it is too late.
// The connection's next response has none of them.
func TestSetFields(t *testing.T) {
	type fieldSetter interface {
		SetFields([]h1.HeadField) bool
	}
	errs := make(chan string, 8)
	fields := []h1.HeadField{
		{Name: "x-Zeta", Value: "1", Checked: true},
		{Name: "transfer-encoding", Value: "chunked", Checked: true},
		{Name: "X-Bad", Value: "a\r\nInjected: 1"},
		{Name: "X Bad", Value: "1"},
		{Name: "content-length", Value: "junk"},
		{Name: "DATE", Value: "Tue, 01 Jan 2030 00:00:00 GMT", Checked: true},
		{Name: "x-zeta", Value: "2"},
		{Name: "Alpha", Value: "3"},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fields" {
			io.WriteString(w, "plain")
			return
		}
		w.Header()["X-Map"] = []string{"m"}
		if !w.(fieldSetter).SetFields(fields) {
			errs <- "SetFields before WriteHeader failed"
		}
		w.WriteHeader(http.StatusOK)
		if w.(fieldSetter).SetFields(nil) {
			errs <- "SetFields after WriteHeader succeeded"
		}
		io.WriteString(w, "listed")
	})
	s := start(t, server.Options{}, cleartext("http", h))
	conn, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(safety))
	io.WriteString(conn, "GET /fields HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	lines := rawHead(t, br)
	want := []string{"HTTP/1.1 200 OK", "x-Zeta: 1", "DATE: Tue, 01 Jan 2030 00:00:00 GMT", "x-zeta: 2", "Alpha: 3", "X-Map: m", "Content-Length: 6"}
	if !slices.Equal(lines, want) {
		t.Errorf("head\n%q\nwant\n%q", lines, want)
	}
	if body := make([]byte, 6); readFull(br, body) != nil || string(body) != "listed" {
		t.Errorf("body %q", body)
	}
	for _, l := range rawHead(t, br) {
		if strings.Contains(strings.ToLower(l), "zeta") || strings.HasPrefix(l, "X-Map") || strings.HasPrefix(l, "DATE") {
			t.Errorf("the next response on the connection has %q", l)
		}
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// rawHead reads a head's lines as sent, status line first.
func rawHead(t *testing.T, br *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("head: %v (so far %q)", err, lines)
		}
		if l = strings.TrimSuffix(l, "\r\n"); l == "" {
			return lines
		}
		lines = append(lines, l)
	}
}

func readFull(br *bufio.Reader, b []byte) error {
	_, err := io.ReadFull(br, b)
	return err
}

// A request body tells whether the rest of it is already in the
// connection's buffer (reading it cannot wait for the client), so that a
// proxy may send it with the head: yes when it came with the head or once
// it is read, no while part of it is still to come, for a chunked body,
// or before the 100 Continue the client waits for.
func TestRequestBodyTellsWhetherItIsBuffered(t *testing.T) {
	type buffered interface{ Buffered() bool }
	seen := make(chan bool, 1)
	s := start(t, server.Options{}, cleartext("http", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := r.Body.(buffered)
		if !ok {
			t.Errorf("the body (%T) does not tell whether it is buffered", r.Body)
		}
		seen <- ok && b.Buffered()
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %v", body, ok && b.Buffered())
	})))
	addr := s.Addr("http").String()
	for _, tc := range []struct {
		name, head, first, rest string
		want                    bool
	}{
		{"whole", "Content-Length: 5\r\n", "hello", "", true},
		{"half", "Content-Length: 5\r\n", "he", "llo", false},
		{"chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", "", false},
		{"expects 100 Continue", "Content-Length: 5\r\nExpect: 100-continue\r\n", "", "hello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rd, _, _ := exchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\n"+tc.head+"\r\n"+tc.first, 0)
			select {
			case got := <-seen:
				if got != tc.want {
					t.Errorf("Buffered() = %v before reading, want %v", got, tc.want)
				}
			case <-time.After(safety):
				t.Fatal("the handler did not run")
			}
			io.WriteString(c, tc.rest)
			resp, err := http.ReadResponse(rd, nil)
			for err == nil && resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(rd, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "hello true" {
				t.Errorf("answer %q, want the body and Buffered() true once it is read", b)
			}
		})
	}
}
