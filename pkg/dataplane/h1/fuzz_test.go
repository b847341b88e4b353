package h1

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// netHTTPRequests reads stream as net/http's server reads requests, until
// the end or a refusal (err). Empty lines before a request are skipped as
// RFC 9112 §2.2 advises (net/http skips them only after a POST).
func netHTTPRequests(stream string) ([]message, error) {
	br := bufio.NewReader(strings.NewReader(stream))
	var out []message
	for {
		_ = skipEmptyLines(br)
		req, err := http.ReadRequest(br)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return out, err
		}
		out = append(out, message{method: req.Method, target: req.RequestURI, body: string(body),
			fields: headerStrings(req.Header), trailer: strings.Join(headerStrings(req.Trailer), "\n")})
	}
}

func headerStrings(h http.Header) []string {
	var out []string
	for k, vv := range h {
		for _, v := range vv {
			out = append(out, k+": "+v)
		}
	}
	slices.Sort(out)
	return out
}

// canonical puts fields as net/http keys them, sorted.
func canonical(fields []string) []string {
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ": ")
		out = append(out, textproto.CanonicalMIMEHeaderKey(name)+": "+value)
	}
	slices.Sort(out)
	return out
}

// sameMessage compares what both parsers read of one message: net/http
// may read more leniently, never differently.
func sameMessage(ours, theirs message) error {
	switch {
	case ours.method != theirs.method || ours.target != theirs.target:
		return fmt.Errorf("request line %s %q, net/http %s %q", ours.method, ours.target, theirs.method, theirs.target)
	case ours.body != theirs.body:
		return fmt.Errorf("body %q, net/http %q", ours.body, theirs.body)
	case ours.status != theirs.status:
		return fmt.Errorf("status %q, net/http %q", ours.status, theirs.status)
	}
	// net/http drops fields it moves elsewhere (Host, Transfer-Encoding,
	// Trailer) and merges trailers with the declared names.
	skip := func(f string) bool {
		name, _, _ := strings.Cut(f, ":")
		return name == "Host" || name == "Transfer-Encoding" || name == "Trailer"
	}
	a, b := slices.DeleteFunc(canonical(ours.fields), skip), slices.DeleteFunc(slices.Clone(theirs.fields), skip)
	if !slices.Equal(a, b) {
		return fmt.Errorf("fields %q, net/http %q", a, b)
	}
	return nil
}

// FuzzRequestsAgainstNetHTTP holds the parser to net/http's reading of the
// same bytes: every request the parser accepts, net/http accepts too and
// reads the same (line, fields, body, trailer), and how the bytes arrive
// (piece and buffer size) changes nothing. Refusing what net/http accepts
// is allowed: the parser is stricter by design (TestReadRequests pins
// each such case).
func FuzzRequestsAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{get, postCL, chunked, bodyLikeHead, clAndTE, obsFold, h2Preface,
		get + postCL + clAndTE, chunked + obsFold, paddedTE + clAndTE, tabbedTE + obsFold, paddedCL, zeroesCL, longChunk,
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nDEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + clAndTE,
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: 1\r\n\r\n" + obsFold,
		"GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	} {
		f.Add(s, uint8(1))
		f.Add(s, uint8(7))
	}
	f.Fuzz(func(t *testing.T, stream string, piece uint8) {
		whole, errWhole := readRequests(stream, max(len(stream), 1), 4096)
		got, err := readRequests(stream, int(piece%16)+1, 32)
		if err == errChunkLine || err == errTrailer {
			// A line of a chunked body must fit the reader's buffer,
			// here 32 bytes; another buffer size, another verdict.
			got, err = readRequests(stream, int(piece%16)+1, 4096)
		}
		if !sameErr(err, errWhole) || len(got) != len(whole) {
			t.Fatalf("reading depends on piece size: whole %d, %v; pieces of %d %d, %v", len(whole), errWhole, piece%16+1, len(got), err)
		}
		theirs, _ := netHTTPRequests(stream)
		for i, m := range got {
			if i >= len(theirs) {
				t.Fatalf("request %d accepted, net/http refuses it: %+v", i, m)
			}
			if err := sameMessage(m, theirs[i]); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
	})
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// FuzzResponsesAgainstNetHTTP: every response the parser accepts, net/http
// accepts too, with the same status and body.
func FuzzResponsesAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nA: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nuntil close",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nh",
		"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	} {
		f.Add(s, uint8(0), uint8(3))
		f.Add(s, uint8(1), uint8(1))
	}
	methods := []string{"GET", "HEAD", "POST", "CONNECT"}
	f.Fuzz(func(t *testing.T, stream string, method, piece uint8) {
		m := methods[int(method)%len(methods)]
		ours, err := readResponse(stream, m, int(piece%16)+1)
		if err != nil {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(stream)), &http.Request{Method: m})
		if err != nil {
			t.Fatalf("accepted %+v, net/http refuses: %v", ours, err)
		}
		if m == "CONNECT" && resp.StatusCode/100 == 2 {
			return // a tunnel follows; net/http reads a body instead
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("accepted %+v, net/http refuses the body: %v", ours, err)
		}
		if ours.body != string(body) {
			t.Fatalf("body %q, net/http %q", ours.body, body)
		}
		if got := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))); got != strings.TrimSpace(ours.status) {
			t.Fatalf("reason %q, net/http %q", ours.status, got)
		}
	})
}
