package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// The one-pass parse must say what the strict parse (headEnd, then the
// lines) says of every input: the same length, the same refusal (status
// and reason), ErrIncomplete for the same cuts of a head, and the same
// parsed head. These tests hold ParseRequest and ParseResponse to
// parseRequestStrict and parseResponseStrict.

// onePassHeads are heads with the cases the scans treat apart: LF-only
// lines, tabs and spaces around values, values of 8 and more bytes (the
// word-at-a-time scan), obs-text, framing fields, refusals of each kind.
var onePassHeads = []string{
	get, postCL, obsFold, h2Preface,
	"GET / HTTP/1.1\r\nHost: 127.0.0.1:31880\r\n\r\n",
	"GET /a?b HTTP/1.0\nHost:a\nConnection: keep-alive\n\n",
	"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Long: 0123456789abcdef\t012\r\n\r\n",
	"GET http://a/b HTTP/1.1\r\nhost:\t a \t\r\nX-E:\r\nX-S: \t \r\nExpect: 100-continue\r\nX-O: \x80\xff\x7e\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nConnection: Upgrade, close\r\nUpgrade: x\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-A: v\r\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-A : v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-A: v\x01w\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Sun, 29 Nov 2026 23:24:45 GMT\r\nContent-Type: text/html\r\n" +
		"Content-Length: 615\r\nConnection: keep-alive\r\n\r\n",
	"HTTP/1.0 204 No Content\nTransfer-Encoding: chunked\nContent-Length: 3\n\n",
	"HTTP/1.1 101\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
	"HTTP/1.1 200 \x80K\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
}

// interesting are the bytes each position of a head is replaced with.
var interesting = []byte{'\r', '\n', '\t', ' ', ':', 0, 0x7f, 0x80, 'a'}

func TestOnePassAgreesOnEachCut(t *testing.T) {
	for _, head := range onePassHeads {
		for cut := range len(head) + 1 {
			compareParses(t, []byte(head[:cut]), 1<<16)
		}
		for _, max := range []int{0, 1, len(head) / 2, len(head) - 1, len(head), len(head) + 1} {
			compareParses(t, []byte(head), max)
		}
	}
}

// TestOnePassAgreesOnEachByte replaces each byte of each head with each
// interesting byte, and cuts the result at every position.
func TestOnePassAgreesOnEachByte(t *testing.T) {
	for _, head := range onePassHeads {
		for pos := range len(head) {
			for _, c := range interesting {
				b := []byte(head)
				b[pos] = c
				for cut := pos; cut <= len(b); cut++ {
					compareParses(t, b[:cut], 1<<16)
				}
				compareParses(t, b, len(b)-1)
			}
		}
	}
}

func FuzzOnePassAgainstStrict(f *testing.F) {
	for _, s := range onePassHeads {
		f.Add([]byte(s), uint16(1<<15))
		f.Add([]byte(s), uint16(len(s)-1))
	}
	f.Fuzz(func(t *testing.T, b []byte, max uint16) { compareParses(t, b, int(max)) })
}

// compareParses parses b as a request and as a response to each method
// both ways, and fails the test where the verdicts differ; it holds
// HeadBuffered to the byte-at-a-time headEnd too.
func compareParses(t *testing.T, b []byte, limit int) {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(b), max(len(b), 16))
	_, _ = br.Peek(len(b))
	if got, want := HeadBuffered(br), len(b) > 0 && b[0] != '\r' && b[0] != '\n' && refHeadEnd(b, 0) >= 0; got != want {
		t.Fatalf("HeadBuffered(%q) = %v, want %v", b, got, want)
	}
	var fast, strict Head
	n, err := ParseRequest(b, &fast, limit)
	wn, werr := parseRequestStrict(b, &strict, limit)
	if d := verdictDiff(n, err, &fast, wn, werr, &strict); d != "" {
		t.Fatalf("request %q, limit %d: %s", b, limit, d)
	}
	for _, m := range []string{"GET", "HEAD", "CONNECT"} {
		n, err := ParseResponse(b, &fast, limit, m)
		wn, werr := parseResponseStrict(b, &strict, limit, m)
		if d := verdictDiff(n, err, &fast, wn, werr, &strict); d != "" {
			t.Fatalf("response to %s %q, limit %d: %s", m, b, limit, d)
		}
	}
}

func verdictDiff(n int, err error, h *Head, wn int, werr error, wh *Head) string {
	switch {
	case n != wn || !sameErr(err, werr) || statusOf(err) != statusOf(werr):
		return fmt.Sprintf("one pass %d, %v; strict %d, %v", n, err, wn, werr)
	case err != nil:
		return ""
	}
	if got, want := headString(h), headString(wh); got != want {
		return fmt.Sprintf("one pass parsed\n%s\nstrict\n%s", got, want)
	}
	return ""
}

func headString(h *Head) string {
	return fmt.Sprintf("%q %q %d %q 1.%d %q framing %d cl %d close %v upgrade %v expect %v host %q",
		h.Method, h.Target, h.Status, h.Reason, h.Minor, slices.Clone(fieldStrings(h.Fields)),
		h.Framing, h.ContentLength, h.Close, h.Upgrade, h.Expect100, h.Host)
}

// TestEqualFoldNameEachByte puts every byte value at every position of
// each name and token noteField looks for, against equalFold.
func TestEqualFoldNameEachByte(t *testing.T) {
	for _, s := range []string{"content-length", "transfer-encoding", "chunked", "connection", "host",
		"expect", "100-continue", "upgrade", "close", "keep-alive", "0123456789-abcdefghijklmnopqrstuvwxyz"} {
		for i := range len(s) {
			for c := range 256 {
				b := []byte(s)
				b[i] = byte(c)
				if got, want := equalFoldName(b, s), equalFold(b, s); got != want {
					t.Fatalf("equalFoldName(%q, %q) = %v, want %v", b, s, got, want)
				}
			}
		}
		if equalFoldName([]byte(s[1:]), s) || equalFoldName([]byte(s+"x"), s) {
			t.Fatalf("equalFoldName matches %q with a name of another length", s)
		}
	}
}
