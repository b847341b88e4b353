package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Requests framed in spellings h1guard once misread.
var (
	paddedTE  = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:   chunked" + strings.Repeat(" ", 40) + "\r\n\r\n0\r\n\r\n"
	tabbedTE  = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tChunked\t\r\n\r\n0\r\n\r\n"
	paddedCL  = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2" + strings.Repeat("\t", 40) + "\r\n\r\nhi"
	zeroesCL  = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + strings.Repeat("0", 40) + "2\r\n\r\nhi"
	longChunk = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000000000000002\r\nhi\r\n0\r\n\r\n"
)

func TestReadRequests(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		n      int // requests read before the end or the refusal
		status int // of the refusal; 0 for a clean end
	}{
		{"one GET", get, 1, 0},
		{"keep-alive mix", get + postCL + chunked + bodyLikeHead + get, 5, 0},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi" + get, 2, 0},
		{"empty lines between requests", get + "\r\n\n" + get, 2, 0},
		{"uppercase chunk size and names", "POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n" + get, 2, 0},
		{"padded TE", paddedTE + get, 2, 0},
		{"tabbed TE", tabbedTE + get, 2, 0},
		{"padded CL", paddedCL + get, 2, 0},
		{"CL with leading zeros", zeroesCL + get, 2, 0},
		{"15-digit chunk size", longChunk + get, 2, 0},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 1, 0},
		{"HTTP/1.0 with CL", "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi" + get, 2, 0},
		{"CONNECT authority", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 1, 0},
		{"CONNECT percent-encoded", "CONNECT %0 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"CONNECT without a port", "CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"absolute-form", "GET http://a.example:8080/x?y HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 1, 0},
		{"absolute-form with a query right after the host", "GET http://a.example?y HTTP/1.1\r\nHost: a.example\r\n\r\n", 1, 0},
		{"absolute-form, empty host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"absolute-form, fragment for a host", "0 A://# HTTP/1.0\n0000:0\n\n", 0, 400},
		{"absolute-form, fragment in the host", "GET http://a#b/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"absolute-form, userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"obs-text in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", 1, 0},

		// Smuggling vectors: refused, after the requests before them.
		{"CL and TE", get + clAndTE, 1, 400},
		{"TE before CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 0, 400},
		{"obs-fold", postCL + obsFold, 1, 400},
		{"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tmore\r\n\r\n", 0, 400},
		{"obs-fold in a trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n folded\r\n\r\n", 0, 400},
		{"HTTP/1.0 with TE", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400},
		{"TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 0, 400},
		{"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 0, 400},
		{"TE gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0, 400},
		{"two TE fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400},
		{"TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 0, 400},
		{"CL twice, equal", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", 0, 400},
		{"CL twice, differing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", 0, 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nhi", 0, 400},
		{"CL not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 0, 400},
		{"CL signed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nh", 0, 400},
		{"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 0, 400},
		{"CL beyond int64", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 0, 400},
		{"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 0, 400},
		{"bare CR ending a line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, 400},
		{"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 0, 400},
		{"NUL in the target", "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"space before the colon", "GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n", 0, 400},
		{"two spaces in the request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, 505},
		{"PRI line, not the preface", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", 0, 400},
		{"h2 preface", h2Preface, 0, 400},
		{"PRI with an HTTP/1 version", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 0, 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 400},
		{"chunk size with space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 0, 400},
		{"chunk size empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0, 400},
		{"chunk size 17 digits", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n", 0, 400},
		{"chunk size beyond int64", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", 0, 400},
		{"chunk line bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 0, 400},
		{"chunk data not ended by CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 0, 400},
		{"chunk extension with CTL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 0, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, piece := range splits(len(tt.stream)) {
				for _, bufSize := range []int{32, 4096} {
					got, err := readRequests(tt.stream, piece, bufSize)
					if len(got) != tt.n || statusOf(err) != tt.status || (tt.status == 0 && err != nil) {
						t.Fatalf("pieces of %d, buffer %d: %d requests, err %v; want %d, status %d", piece, bufSize, len(got), err, tt.n, tt.status)
					}
				}
			}
		})
	}
}

func TestReadRequestFields(t *testing.T) {
	got, err := readRequests(chunked+"GET /x?y HTTP/1.0\r\nConnection: Keep-Alive\r\nX:  v w \t\r\n\r\n", 3, 16)
	if err != nil || len(got) != 2 {
		t.Fatalf("%d requests, %v", len(got), err)
	}
	c, g := got[0], got[1]
	if c.method != "POST" || c.target != "/c" || c.body != "hello0123456789abcdef" || c.trailer != "X-Trailer: t" || c.close {
		t.Errorf("chunked request read as %+v", c)
	}
	if g.method != "GET" || g.target != "/x?y" || strings.Join(g.fields, "|") != "Connection: Keep-Alive|X: v w" || g.close {
		t.Errorf("HTTP/1.0 keep-alive request read as %+v", g)
	}
}

func TestRequestClose(t *testing.T) {
	tests := []struct {
		head  string
		close bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", true},
		{"GET / HTTP/1.0\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
	}
	for _, tt := range tests {
		var h Head
		if _, err := ParseRequest([]byte(tt.head), &h, 1<<10); err != nil || h.Close != tt.close {
			t.Errorf("%q: close %v (%v), want %v", tt.head, h.Close, err, tt.close)
		}
	}
}

// A head larger than the reader's buffer is gathered and parsed once;
// one over the limit is refused without reading the rest.
func TestHeadLargerThanTheBuffer(t *testing.T) {
	big := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 50<<10) + "\r\n\r\n" + get
	if got, err := readRequests(big, 1000, 4096); err != nil || len(got) != 2 || len(got[0].fields[1]) != 3+50<<10 {
		t.Errorf("%d requests, %v", len(got), err)
	}
	br := bufio.NewReaderSize(strings.NewReader(big), 4096)
	var h Head
	if err := ReadRequest(br, &h, 20<<10); statusOf(err) != 431 {
		t.Errorf("over the limit: %v", err)
	}
}

func TestHeadTooLarge(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n"
	var h Head
	if _, err := ParseRequest([]byte(head), &h, 1000); statusOf(err) != 431 {
		t.Errorf("complete head over the limit: %v", err)
	}
	if _, err := ParseRequest([]byte(head[:1500]), &h, 1000); statusOf(err) != 431 {
		t.Errorf("incomplete head over the limit: %v", err)
	}
	if _, err := ParseRequest([]byte(head[:500]), &h, 1000); err != ErrIncomplete {
		t.Errorf("incomplete head under the limit: %v", err)
	}
	if _, err := ParseResponse([]byte("HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", 2000)+"\r\n\r\n"), &h, 1000, "GET"); statusOf(err) != 502 {
		t.Errorf("response head over the limit: %v", err)
	}
}

func TestReadResponses(t *testing.T) {
	tests := []struct {
		name, method, stream string
		body                 string
		close                bool
		status               int // of a refusal
	}{
		{"length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiXX", "hi", false, 0},
		{"chunked with trailer", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nA: b\r\n\r\nXX", "hi", false, 0},
		{"until close", "GET", "HTTP/1.1 200 OK\r\n\r\nhi there", "hi there", true, 0},
		{"HTTP/1.0 until close", "GET", "HTTP/1.0 200 OK\r\n\r\nhi", "hi", true, 0},
		{"HTTP/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nhX", "h", false, 0},
		{"no reason", "GET", "HTTP/1.1 204\r\n\r\nXX", "", false, 0},
		{"HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nXX", "", false, 0},
		{"304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\n\r\nXX", "", false, 0},
		{"100", "GET", "HTTP/1.1 100 Continue\r\n\r\nXX", "", false, 0},
		{"connection close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nh", "h", true, 0},
		{"CL and TE", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", false, 502},
		{"TE gzip", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "", false, 502},
		{"two CLs", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nh", "", false, 502},
		{"status 99", "GET", "HTTP/1.1 099 X\r\n\r\n", "", false, 502},
		{"status 4 digits", "GET", "HTTP/1.1 2000 X\r\n\r\n", "", false, 502},
		{"obs-fold", "GET", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", "", false, 502},
		{"HTTP/2", "GET", "HTTP/2.0 200 OK\r\n\r\n", "", false, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, piece := range splits(len(tt.stream)) {
				m, err := readResponse(tt.stream, tt.method, piece)
				if statusOf(err) != tt.status || (tt.status == 0 && (err != nil || m.body != tt.body || m.close != tt.close)) {
					t.Fatalf("pieces of %d: %+v, %v", piece, m, err)
				}
			}
		})
	}
}

func TestBodyCutShort(t *testing.T) {
	for _, stream := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n",
	} {
		if _, err := readRequests(stream, 2, 64); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %v, want unexpected EOF", stream, err)
		}
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	head := []byte("GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: svc.example.com\r\nUser-Agent: bench/1.0\r\n" +
		"Accept: */*\r\nConnection: keep-alive\r\nCookie: session=0123456789abcdef\r\n\r\n")
	var h Head
	_, _ = ParseRequest(head, &h, 1<<16)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseRequest(head, &h, 1<<16); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per head", allocs)
	}
}

// browserRequest is a head as a browser sends it: most real requests
// have about fifteen fields.
const browserRequest = "GET /articles/2026/11/index.html?ref=home HTTP/1.1\r\nHost: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\nConnection: keep-alive\r\n" +
	"Cookie: session=abcdef0123456789; theme=dark; _ga=GA1.2.1234567890.1234567890\r\n" +
	"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-Site: same-origin\r\nSec-Fetch-User: ?1\r\nPriority: u=0, i\r\nCache-Control: max-age=0\r\n\r\n"

// BenchmarkParse parses a request head as a small client sends it, one
// as a browser does, and the head nginx answers a small GET with.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name  string
		head  string
		parse func([]byte, *Head) (int, error)
	}{
		{"request", "GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: svc.example.com\r\nUser-Agent: bench/1.0\r\n" +
			"Accept: */*\r\nAccept-Encoding: gzip\r\nCookie: session=0123456789abcdef\r\n\r\n",
			func(b []byte, h *Head) (int, error) { return ParseRequest(b, h, 1<<16) }},
		{"browser", browserRequest, func(b []byte, h *Head) (int, error) { return ParseRequest(b, h, 1<<16) }},
		{"response", "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Sun, 29 Nov 2026 23:24:45 GMT\r\n" +
			"Content-Type: text/html\r\nContent-Length: 615\r\nConnection: keep-alive\r\n\r\n",
			func(b []byte, h *Head) (int, error) { return ParseResponse(b, h, 1<<16, "GET") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			head := []byte(bc.head)
			var h Head
			b.SetBytes(int64(len(head)))
			for b.Loop() {
				if _, err := bc.parse(head, &h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestChunkedWriter(t *testing.T) {
	tests := []struct {
		name    string
		chunks  []string
		trailer http.Header
		want    string
	}{
		{"no chunks", nil, nil, "0\r\n\r\n"},
		{"empty write skipped", []string{"", "hello"}, nil, "5\r\nhello\r\n0\r\n\r\n"},
		{"hex sizes", []string{strings.Repeat("a", 26)}, nil, "1a\r\n" + strings.Repeat("a", 26) + "\r\n0\r\n\r\n"},
		{"trailer", []string{"x"}, http.Header{"X-T": {"1"}}, "1\r\nx\r\n0\r\nX-T: 1\r\n\r\n"},
		{"trailer that would split the message", nil, http.Header{"X-T": {"1\r\nEvil: 1"}, "Bad Name": {"v"}}, "0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			var cw ChunkedWriter
			cw.Reset(bw)
			for _, c := range tt.chunks {
				if _, err := cw.Write([]byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			if err := cw.Close(tt.trailer); err != nil || bw.Flush() != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("wrote %q, want %q", out.String(), tt.want)
			}
			// What it wrote reads back as the same body.
			m, err := readResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+out.String(), "GET", 5)
			if err != nil || m.body != strings.Join(tt.chunks, "") {
				t.Fatalf("read back %q, %v", m.body, err)
			}
		})
	}
}

// TestWriteCheckedField writes fields through a buffer that fills up at
// each byte of them: built in the buffer or written in pieces, the line
// is the same.
func TestWriteCheckedField(t *testing.T) {
	fields := [][2]string{{"Content-Type", "text/html"}, {"X", ""}, {"Set-Cookie", strings.Repeat("v", 40)}}
	var want string
	for _, f := range fields {
		want += f[0] + ": " + f[1] + "\r\n"
	}
	for size := 16; size <= len(want)+16; size++ {
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, size)
		for _, f := range fields {
			WriteCheckedField(bw, f[0], f[1])
		}
		if err := bw.Flush(); err != nil || out.String() != want {
			t.Fatalf("buffer of %d: wrote %q, %v; want %q", size, out.String(), err, want)
		}
	}
}
