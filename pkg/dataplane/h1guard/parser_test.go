package h1guard

import (
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
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + " \x00\x01 anything", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range splits(len(tt.stream)) {
				delivered, v := feedInPieces(tt.stream, size)
				if tt.at < 0 {
					if v != nil || delivered != len(tt.stream) {
						t.Fatalf("pieces of %d: refused (%v) after %d bytes", size, v, delivered)
					}
					continue
				}
				// Every earlier request is delivered whole, the refused
				// head never is.
				headEnd := tt.at + strings.Index(tt.stream[tt.at:], "\n\r\n") + 3
				if v == nil || delivered < tt.at || delivered >= headEnd {
					t.Fatalf("pieces of %d: %d bytes delivered (%v), want [%d, %d)", size, delivered, v, tt.at, headEnd)
				}
			}
		})
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

// Framing net/http refuses on its own is not judged further.
func TestFeedGivesUpOnBrokenFraming(t *testing.T) {
	for _, stream := range []string{
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + obsFold,
		"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n" + obsFold,
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + obsFold,
	} {
		p := newParser()
		if _, v := p.feed([]byte(stream)); v != nil || p.state != stPassthrough {
			t.Errorf("%q: violation %v, state %d; want passthrough", stream, v, p.state)
		}
	}
}

func TestFeedAllocatesNothing(t *testing.T) {
	stream := []byte(get + postCL + chunked)
	allocs := testing.AllocsPerRun(100, func() {
		p := newParser()
		p.feed(stream)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per stream", allocs)
	}
}

// splits are the piece sizes a stream is fed in: every byte alone, a few
// odd sizes, and all at once.
func splits(n int) []int { return []int{1, 2, 3, 7, 64, max(n, 1)} }

// feedInPieces feeds stream in pieces of size, as successive reads, and
// returns how many bytes a reader would have been given.
func feedInPieces(stream string, size int) (int, *Violation) {
	p := newParser()
	delivered := 0
	for off := 0; off < len(stream); off += size {
		piece := stream[off:min(off+size, len(stream))]
		at, v := p.feed([]byte(piece))
		if v != nil {
			return delivered + at, v
		}
		delivered += len(piece)
	}
	return delivered, nil
}
