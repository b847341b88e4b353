package h1guard

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// rawHead is a request head as net/http delimited it in the stream.
type rawHead struct {
	start, end int
	bad        bool // both CL and TE, or obs-fold
}

// netHTTPHeads reads stream as net/http's server does (heads, then bodies)
// until it refuses something, and reports where each accepted head lay.
func netHTTPHeads(stream []byte) []rawHead {
	counter := &countingReader{r: bytes.NewReader(stream)}
	br := bufio.NewReader(counter)
	var heads []rawHead
	for {
		start := counter.n - br.Buffered()
		req, err := http.ReadRequest(br)
		if err != nil {
			return heads
		}
		end := counter.n - br.Buffered()
		heads = append(heads, rawHead{start, end, badHead(stream[start:end])})
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return heads
		}
	}
}

func badHead(head []byte) bool {
	lines := bytes.Split(head, []byte("\n"))
	var cl, te bool
	for i, line := range lines {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if i == 0 || len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return true
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		cl = cl || bytes.EqualFold(name, []byte("content-length"))
		te = te || bytes.EqualFold(name, []byte("transfer-encoding"))
	}
	return cl && te
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// FuzzAgainstNetHTTP holds the guard to net/http's own reading of the same
// bytes: every head net/http would accept with both CL and TE or an
// obs-fold is refused before it is delivered whole, nothing else is
// refused, and how the bytes arrive (piece size) changes nothing.
func FuzzAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{get, postCL, chunked, bodyLikeHead, clAndTE, obsFold,
		get + postCL + clAndTE, chunked + obsFold, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 005\r\n\r\nhello" + get,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: 1\r\n\r\n" + obsFold} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		whole, vWhole := feedInPieces(string(stream), max(len(stream), 1))
		delivered, v := feedInPieces(string(stream), int(size%16)+1)
		if (v == nil) != (vWhole == nil) || (v != nil && v.Reason != vWhole.Reason) {
			t.Fatalf("verdict depends on piece size: whole %v, pieces of %d %v", vWhole, size%16+1, v)
		}
		_ = whole
		heads := netHTTPHeads(stream)
		for _, h := range heads {
			if h.bad && h.end <= delivered && !passedThrough(stream, h.start) {
				t.Fatalf("head at [%d,%d) delivered whole: %q", h.start, h.end, stream[h.start:h.end])
			}
		}
		if v != nil && !refusalJustified(heads, delivered) {
			t.Fatalf("refused after %d bytes (%v), but net/http accepts that head: heads %+v", delivered, v, heads)
		}
	})
}

// passedThrough reports whether the guard had stopped judging before the
// head at start (an h2 preface, or framing net/http refuses anyway).
func passedThrough(stream []byte, start int) bool {
	p := newParser()
	p.feed(stream[:start])
	return p.state == stPassthrough
}

// refusalJustified: the head being delivered when the guard refused is one
// net/http would take although it is bad, or net/http had already given up.
func refusalJustified(heads []rawHead, delivered int) bool {
	for _, h := range heads {
		if h.start <= delivered && delivered < h.end {
			return h.bad
		}
	}
	return len(heads) == 0 || heads[len(heads)-1].end <= delivered
}
