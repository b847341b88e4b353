package h1guard

import (
	"io"
	"net"
	"strings"
	"testing"
)

const (
	get     = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	postCL  = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	chunked = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n"
	// Bodies that look like heads must not be judged as heads.
	headInBody   = "GET /x HTTP/1.1\r\n Folded: yes\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	bodyLikeHead = "POST /b HTTP/1.1\r\nContent-Length: 80\r\n\r\n" + headInBody
	clAndTE      = "POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	obsFold      = "GET /f HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n"
)

// Requests net/http frames as the guard must, in spellings the guard once
// misread and stopped judging after.
var (
	paddedTE  = chunkedHead("   chunked"+strings.Repeat(" ", 40)) + "0\r\n\r\n"
	tabbedTE  = chunkedHead("\tChunked\t") + "0\r\n\r\n"
	paddedCL  = "POST / HTTP/1.1\r\nContent-Length: 2" + strings.Repeat("\t", 40) + "\r\n\r\nhi"
	zeroesCL  = "POST / HTTP/1.1\r\nContent-Length: " + strings.Repeat("0", 40) + "2\r\n\r\nhi"
	longChunk = chunkedHead("chunked") + "0000000000000002\r\nhi\r\n0\r\n\r\n"
)

func TestFeed(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		at     int // start of the refused head, -1 for none
	}{
		{"one GET", get, -1},
		{"keep-alive mix", get + postCL + chunked + bodyLikeHead + get, -1},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi" + get, -1},
		{"empty lines between requests", get + "\r\n" + get, -1},
		{"uppercase chunk size and field names", "POST / HTTP/1.1\r\nTRANSFER-ENCODING: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n" + get, -1},
		{"CL and TE", clAndTE, 0},
		{"CL and TE after a request", get + postCL + clAndTE, len(get + postCL)},
		{"TE before CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 0},
		{"obs-fold with spaces", obsFold, 0},
		{"obs-fold with a tab", "GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\n\r\n", 0},
		{"obs-fold after a chunked request", chunked + obsFold, len(chunked)},

		// Only the whole HTTP/2 preface, first on the connection, is not
		// judged; net/http serves any other PRI line as HTTP/1.
		{"h2c preface", h2Preface + " \x00\x01 anything", -1},
		{"h2c preface alone", h2Preface, -1},
		{"PRI line with fields", "PRI * HTTP/2.0\r\nHost: a\r\n\r\n" + clAndTE, 0},
		{"PRI line, not the preface", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + get, 0},
		{"preface cut short", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r", 0},
		{"PRI line with bare LFs", "PRI * HTTP/2.0\n\n" + get, 0},
		{"preface after a request", get + h2Preface, len(get)},
		{"PRI with another target", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n" + get, -1},

		// net/http ignores TE below HTTP/1.1 and reads another body.
		{"HTTP/1.0 with TE", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0},
		{"HTTP/1.0 with TE after a request", get + "POST / HTTP/1.0\r\nTransfer-Encoding: identity\r\n\r\n", len(get)},
		{"HTTP/0.9 with TE", "POST / HTTP/0.9\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
		{"HTTP/1.0 with bare LFs and TE", "POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n", 0},
		{"HTTP/1.0 with CL", "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi" + get, -1},

		// TE as net/http reads it: trimmed, case-insensitive, one field,
		// exactly "chunked".
		{"TE padded", paddedTE + clAndTE, len(paddedTE)},
		{"TE padded with tabs", tabbedTE + obsFold, len(tabbedTE)},
		{"padded TE and CL", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: \t chunked \r\n\r\n", 0},
		{"TE identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 0},
		{"TE chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 0},
		{"TE gzip then chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0},
		{"TE with a space inside", "POST / HTTP/1.1\r\nTransfer-Encoding: chun ked\r\n\r\n0\r\n\r\n", 0},
		{"TE empty", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 0},
		{"two TE fields", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0},

		// CL as strconv.ParseUint(trimmed, 10, 63) reads it.
		{"CL padded", paddedCL + obsFold, len(paddedCL)},
		{"CL with leading zeros", zeroesCL + obsFold, len(zeroesCL)},
		{"CL twice, equal", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi" + get, -1},
		{"CL twice, differing", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi" + get, 0},
		{"CL not a number", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n" + get, 0},
		{"CL signed", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nh" + get, 0},
		{"CL empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n" + get, 0},
		{"CL beyond int64", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 0},
		{"16-digit chunk size", longChunk + clAndTE, len(longChunk)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range splits(len(tt.stream)) {
				delivered, v := feedInPieces(t, tt.stream, size)
				if tt.at < 0 {
					if v != nil || delivered != len(tt.stream) {
						t.Fatalf("pieces of %d: refused (%v) after %d bytes", size, v, delivered)
					}
					continue
				}
				// Every earlier request is delivered whole, the refused
				// head never is.
				if v == nil || delivered < tt.at || delivered >= headEnd(tt.stream, tt.at) {
					t.Fatalf("pieces of %d: %d bytes delivered (%v), want [%d, %d)", size, delivered, v, tt.at, headEnd(tt.stream, tt.at))
				}
			}
		})
	}
}

// headEnd is where the head starting at start ends (or the stream does).
func headEnd(stream string, start int) int {
	head := stream[start:]
	end := len(head)
	for _, blank := range []string{"\n\r\n", "\n\n"} {
		if i := strings.Index(head, blank); i >= 0 {
			end = min(end, i+len(blank))
		}
	}
	return start + end
}

// A chunk size net/http refuses is refused from its first bad byte: the
// guard never stops judging, so it never loses track of where the next
// request begins.
func TestFeedRefusesBadChunkSizes(t *testing.T) {
	prefix := chunkedHead("chunked") + "1\r\na\r\n"
	for size, bad := range map[string]int{
		"zz": 0, " 5": 0, ";x": 0, "\r": 0, "\n": 0, "5x": 1,
		"00000000000000005": 16, // a 17th digit (net/http's limit)
		"8000000000000000":  15, // beyond int64
	} {
		stream := prefix + size + "\r\n" + get
		for _, n := range splits(len(stream)) {
			if delivered, v := feedInPieces(t, stream, n); v != errBadChunkLen || delivered != len(prefix)+bad {
				t.Errorf("size %q in pieces of %d: %d bytes delivered (%v), want %d", size, n, delivered, v, len(prefix)+bad)
			}
		}
	}
}

// After a well-formed request the parser waits for the next head.
func TestFeedEndsAtARequestBoundary(t *testing.T) {
	p := newParser()
	stream := get + postCL + chunked + bodyLikeHead
	if _, v := p.feed([]byte(stream)); v != nil {
		t.Fatal(v)
	}
	if p.state != stHead || !p.headStart {
		t.Fatalf("state %d headStart %v after whole requests", p.state, p.headStart)
	}
}

func TestFeedAllocatesNothing(t *testing.T) {
	stream := []byte(get + postCL + chunked + paddedTE + zeroesCL)
	allocs := testing.AllocsPerRun(100, func() {
		p := newParser()
		p.feed(stream)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per stream", allocs)
	}
}

// chunkedHead is the head of a request whose TE field value is te.
func chunkedHead(te string) string {
	return "POST / HTTP/1.1\r\nTransfer-Encoding:" + te + "\r\n\r\n"
}

// splits are the piece sizes a stream is fed in: every byte alone, a few
// odd sizes, and all at once.
func splits(n int) []int { return []int{1, 2, 3, 7, 64, max(n, 1)} }

// feedInPieces has a client send stream in pieces of size, one per read,
// reads it all through a guarded connection and returns how much of stream
// was delivered before the poison, and the violation.
func feedInPieces(t testing.TB, stream string, size int) (int, *Violation) {
	g := Wrap(&piecesConn{rest: []byte(stream), size: size})
	var out []byte
	buf := make([]byte, len(priLine)) // as small as net/http's first read
	for {
		n, err := g.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	delivered := len(out)
	if g.Refused() != nil {
		delivered -= len(poisonHead)
	}
	if delivered < 0 || string(out[:delivered]) != stream[:delivered] || string(out[delivered:]) != string(poisonHead[:len(out)-delivered]) {
		t.Fatalf("pieces of %d: delivered %q for %q", size, out, stream)
	}
	return delivered, g.Refused()
}

// piecesConn is a client that sent rest; a read returns size bytes at most.
type piecesConn struct {
	net.Conn // nil: only Read is called
	rest     []byte
	size     int
}

func (c *piecesConn) Read(b []byte) (int, error) {
	if len(c.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), c.size)], c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

// BenchmarkFeed judges a keep-alive stream of typical requests.
func BenchmarkFeed(b *testing.B) {
	stream := []byte(strings.Repeat(get+postCL+chunked+"GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: svc.example.com\r\n"+
		"User-Agent: bench/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nCookie: session=0123456789abcdef\r\n\r\n", 8))
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		p := newParser()
		if _, v := p.feed(stream); v != nil {
			b.Fatal(v)
		}
	}
}
