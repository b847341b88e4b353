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
	bad        string // why a proxy must not pass it on, "" if it may
}

// netHTTPHeads reads stream as net/http's server does (heads, then bodies)
// until it refuses something, and reports where each accepted head lay and
// where the message it refused began (-1 if it read to a clean end). The
// server would serve HTTP/2 instead if stream began with the preface; the
// caller checks that.
func netHTTPHeads(stream []byte) ([]rawHead, int) {
	counter := &countingReader{r: bytes.NewReader(stream)}
	br := bufio.NewReader(counter)
	var heads []rawHead
	for {
		start := counter.n - br.Buffered()
		req, err := http.ReadRequest(br)
		if err == io.EOF {
			return heads, -1
		}
		if err != nil {
			return heads, start
		}
		end := counter.n - br.Buffered()
		heads = append(heads, rawHead{start, end, badHead(stream[start:end], req)})
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return heads, start
		}
	}
}

// badHead is what the guard exists to refuse in a head net/http accepts:
// ambiguous framing (CL with TE, TE that net/http ignores below HTTP/1.1),
// obs-fold, and a PRI request (net/http serves "PRI * HTTP/2.0" that is not
// the whole preface at the start of a connection as HTTP/1).
func badHead(head []byte, req *http.Request) string {
	if req.Method == "PRI" && req.RequestURI == "*" && req.Proto == "HTTP/2.0" {
		return "PRI request"
	}
	var cl, te bool
	for i, line := range bytes.Split(head, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if i == 0 || len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return "obs-fold"
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		cl = cl || bytes.EqualFold(name, []byte("content-length"))
		te = te || bytes.EqualFold(name, []byte("transfer-encoding"))
	}
	switch {
	case cl && te:
		return "Content-Length and Transfer-Encoding"
	case te && !req.ProtoAtLeast(1, 1):
		return "Transfer-Encoding below HTTP/1.1"
	}
	return ""
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
// bytes: every head net/http would accept although it is bad (badHead) is
// refused before it is delivered whole, nothing else is refused, and how
// the bytes arrive (piece size) changes nothing. The only stream the guard
// does not judge is one net/http serves as HTTP/2: the whole preface first.
func FuzzAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{get, postCL, chunked, bodyLikeHead, clAndTE, obsFold,
		get + postCL + clAndTE, chunked + obsFold, h2Preface, h2Preface + clAndTE,
		"POST / HTTP/1.1\r\nContent-Length: 005\r\n\r\nhello" + get,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: 1\r\n\r\n" + obsFold,
		// Once bypasses: the guard stopped judging, or framed differently.
		"PRI * HTTP/2.0\r\nHost: a\r\n\r\n" + clAndTE,
		get + "PRI * HTTP/2.0\r\n\r\n" + obsFold,
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nDEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + clAndTE,
		paddedTE + clAndTE, tabbedTE + obsFold, paddedCL + obsFold, zeroesCL + clAndTE, longChunk + obsFold,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		_, vWhole := feedInPieces(t, string(stream), max(len(stream), 1))
		delivered, v := feedInPieces(t, string(stream), int(size%16)+1)
		if (v == nil) != (vWhole == nil) || (v != nil && v.Reason != vWhole.Reason) {
			t.Fatalf("verdict depends on piece size: whole %v, pieces of %d %v", vWhole, size%16+1, v)
		}
		if bytes.HasPrefix(stream, []byte(h2Preface)) {
			if v != nil {
				t.Fatalf("refused an HTTP/2 connection: %v", v)
			}
			return
		}
		heads, stop := netHTTPHeads(stream)
		for _, h := range heads {
			if h.bad != "" && h.end <= delivered {
				t.Fatalf("head at [%d,%d) delivered whole (%s): %q", h.start, h.end, h.bad, stream[h.start:h.end])
			}
		}
		if v != nil && !refusalJustified(heads, stop, delivered) {
			t.Fatalf("refused after %d bytes (%v), but net/http accepts that message: heads %+v, refused from %d", delivered, v, heads, stop)
		}
	})
}

// refusalJustified: the head being delivered when the guard refused is one
// net/http would take although it is bad, or net/http refuses the message
// the guard refused in (or one before it).
func refusalJustified(heads []rawHead, stop, delivered int) bool {
	for _, h := range heads {
		if h.start <= delivered && delivered < h.end {
			return h.bad != ""
		}
	}
	return stop >= 0 && stop <= delivered
}
