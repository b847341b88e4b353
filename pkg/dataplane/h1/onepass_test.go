package h1

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The one scan of a head (parseHead) is held to a reference parse that
// takes the same decisions the plain way, a byte at a time and in two
// passes as the parser once did (find the head's end, then split and
// parse its lines): the same length, the same refusal (status and
// reason), ErrIncomplete for the same cuts of a head, the same parsed
// head. TestRefusals pins the reasons and their precedence by name.

// refParse is ParseRequest (method "") or ParseResponse by the reference:
// the end of the head first (a head over max is too large, however
// malformed), then its lines in order, the first bad one refused, a bare
// CR in a line before anything else in it.
func refParse(b []byte, h *Head, max int, response bool, method string) (int, error) {
	n := refHeadEnd(b, 0)
	switch {
	case n > max || (n < 0 && len(b) > max):
		if response {
			return 0, errRespLarge
		}
		return 0, errTooLarge
	case n < 0:
		return 0, ErrIncomplete
	}
	err := refParseLines(b[:n], h, response)
	switch {
	case err == nil && response:
		err = h.frameResponse(method)
	case err == nil:
		err = h.frameRequest()
	}
	if response {
		err = upstreamErr(err)
	}
	return n, err
}

func refParseLines(b []byte, h *Head, response bool) error {
	h.reset()
	line, rest, err := refNextLine(b)
	switch {
	case err != nil:
		return err
	case response:
		err = h.statusLine(line)
	default:
		err = h.requestLine(line)
	}
	for err == nil {
		line, rest, err = refNextLine(rest)
		if err != nil || len(line) == 0 {
			return err
		}
		var f Field
		if f, err = refParseField(line); err == nil {
			h.Fields = append(h.Fields, f)
			h.noteField(f)
		}
	}
	return err
}

// refParseField parses "name: value" (no CR or LF in line): a line that
// starts with whitespace is obs-fold; a name is tchars, then the colon
// with no whitespace before it; the value, whitespace around it dropped,
// is value bytes only.
func refParseField(line []byte) (Field, error) {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return Field{}, errObsFold
	}
	i := 0
	for i < len(line) && isToken(line[i]) {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ':' {
		return Field{}, errFieldName
	}
	v := line[i+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if !refValidValue(v) {
		return Field{}, errCTL
	}
	return Field{Name: line[:i], Value: v}, nil
}

// heads are heads with the cases the scans treat apart: LF-only
// lines, tabs and spaces around values, values of 8 and more bytes (the
// word-at-a-time scan), obs-text, framing fields, refusals of each kind.
var heads = []string{
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

func TestParseAgreesOnEachCut(t *testing.T) {
	for _, head := range heads {
		for cut := range len(head) + 1 {
			compareParses(t, []byte(head[:cut]), 1<<16)
		}
		for _, max := range []int{0, 1, len(head) / 2, len(head) - 1, len(head), len(head) + 1} {
			compareParses(t, []byte(head), max)
		}
	}
}

// TestParseAgreesOnEachByte replaces each byte of each head with each
// interesting byte, and cuts the result at every position.
func TestParseAgreesOnEachByte(t *testing.T) {
	for _, head := range heads {
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

func FuzzParseAgainstReference(f *testing.F) {
	for _, s := range heads {
		f.Add([]byte(s), uint16(1<<15))
		f.Add([]byte(s), uint16(len(s)-1))
	}
	f.Fuzz(func(t *testing.T, b []byte, max uint16) { compareParses(t, b, int(max)) })
}

// compareParses parses b as a request and as a response to each method,
// and by the reference, and fails the test where the verdicts differ; it
// holds HeadBuffered to the byte-at-a-time head end too.
func compareParses(t *testing.T, b []byte, limit int) {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(b), max(len(b), 16))
	_, _ = br.Peek(len(b))
	if got, want := HeadBuffered(br), len(b) > 0 && b[0] != '\r' && b[0] != '\n' && refHeadEnd(b, 0) >= 0; got != want {
		t.Fatalf("HeadBuffered(%q) = %v, want %v", b, got, want)
	}
	var h, ref Head
	n, err := ParseRequest(b, &h, limit)
	wn, werr := refParse(b, &ref, limit, false, "")
	if d := verdictDiff(n, err, &h, wn, werr, &ref); d != "" {
		t.Fatalf("request %q, limit %d: %s", b, limit, d)
	}
	for _, m := range []string{"GET", "HEAD", "CONNECT"} {
		n, err := ParseResponse(b, &h, limit, m)
		wn, werr := refParse(b, &ref, limit, true, m)
		if d := verdictDiff(n, err, &h, wn, werr, &ref); d != "" {
			t.Fatalf("response to %s %q, limit %d: %s", m, b, limit, d)
		}
	}
}

func verdictDiff(n int, err error, h *Head, wn int, werr error, wh *Head) string {
	switch {
	case n != wn || !sameErr(err, werr) || statusOf(err) != statusOf(werr):
		return fmt.Sprintf("parsed %d, %v; reference %d, %v", n, err, wn, werr)
	case err != nil:
		return ""
	}
	if got, want := headString(h), headString(wh); got != want {
		return fmt.Sprintf("parsed\n%s\nreference\n%s", got, want)
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
		"expect", "100-continue", "upgrade", "close", "keep-alive", "0123456789-abcdefghijklmnopqrstuvwxyz",
		"0123", "0123456789-abcdefghijklm", "0123456789-abcdefgh"} {
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

// TestRefusals pins each refusal's status, reason and precedence: a bare
// CR before anything else in its line, the first bad line before a later
// one and before the framing, a head over the limit before any of them
// (it is refused as too large however malformed, and a malformed head not
// yet ended within the limit is waited for). Each is read in pieces too,
// through a buffer smaller than the head.
func TestRefusals(t *testing.T) {
	const host = "GET / HTTP/1.1\r\nHost: a\r\n"
	tests := []struct {
		name, head string
		max        int   // 0: 1<<10
		want       error // nil: accepted
	}{
		{"bare CR in the request line", "GET /\rx HTTP/1.1\r\nHost: a\r\n\r\n", 0, errBareCR},
		{"bare CR before the request line's CRLF", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 0, errBareCR},
		{"bare CR ending the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, errBareCR},
		{"bare CR after a bad version", "GET / HTTP/2.0\r\r\nHost: a\r\n\r\n", 0, errBareCR},
		{"bare CR starting a field line", host + "\rX: a\r\n\r\n", 0, errBareCR},
		{"bare CR in a field name", host + "X\rY: a\r\n\r\n", 0, errBareCR},
		{"bare CR in a value", host + "X: a\rb\r\n\r\n", 0, errBareCR},
		{"bare CR before a value's CRLF", host + "X: a\r\r\n\r\n", 0, errBareCR},
		{"bare CR in the empty line", host + "\r\r\n\r\n", 0, errBareCR},
		{"bare CR after a control byte in its line", host + "X: a\x01b\rc\r\n\r\n", 0, errBareCR},
		{"bare CR in an obs-fold line", host + "X: a\r\n b\rc\r\n\r\n", 0, errBareCR},
		{"bare CR after a name without colon", host + "X Y\r\r\n\r\n", 0, errBareCR},
		{"control byte before a later line's bare CR", host + "X: a\x01\r\nY: b\rc\r\n\r\n", 0, errCTL},
		{"obs-fold, space", host + "X: a\r\n b\r\n\r\n", 0, errObsFold},
		{"obs-fold, tab", host + "X: a\r\n\tb\r\n\r\n", 0, errObsFold},
		{"obs-fold as the first field line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, errObsFold},
		{"NUL in a value", host + "X: a\x00b\r\n\r\n", 0, errCTL},
		{"DEL in a value", host + "X: a\x7f\r\n\r\n", 0, errCTL},
		{"NUL in a name", host + "X\x00: a\r\n\r\n", 0, errFieldName},
		{"NUL in the target", "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 0, errRequestLine},
		{"empty field name", host + ": a\r\n\r\n", 0, errFieldName},
		{"space before the colon", host + "X : a\r\n\r\n", 0, errFieldName},
		{"tab before the colon", host + "X\t: a\r\n\r\n", 0, errFieldName},
		{"no colon", host + "X\r\n\r\n", 0, errFieldName},
		{"no colon, LF only", "GET / HTTP/1.1\nHost: a\nX\n\n", 0, errFieldName},
		{"a bad line before the framing", host + "Transfer-Encoding: chunked\r\nContent-Length: 1\r\nX : a\r\n\r\n", 0, errFieldName},
		{"505 version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, errVersion},
		{"LF lines, CRLF empty line", "GET / HTTP/1.1\nHost: a\n\r\n", 0, nil},
		{"exactly at the limit", get, len(get), nil},
		{"one past the limit", get, len(get) - 1, errTooLarge},
		{"malformed, one past the limit", host + "X : a\r\n\r\n", len(host) + 8, errTooLarge},
		{"malformed, at the limit", host + "X : a\r\n\r\n", len(host) + 9, errFieldName},
		{"malformed, not ended, within the limit", host + "X : a\r\n", 0, ErrIncomplete},
		{"malformed, not ended, over the limit", host + "X : a\r\n", len(host) + 6, errTooLarge},
		{"bare CR, not ended, within the limit", host + "X: a\rb\r\n", 0, ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := cmp.Or(tt.max, 1<<10)
			var h Head
			n, err := ParseRequest([]byte(tt.head), &h, limit)
			wantN := len(tt.head) // the head's length, refused or not, once it has ended within the limit
			if tt.want == errTooLarge || tt.want == ErrIncomplete {
				wantN = 0
			}
			if n != wantN || err != tt.want {
				t.Fatalf("ParseRequest = %d, %v; want %d, %v", n, err, wantN, tt.want)
			}
			if tt.want == ErrIncomplete {
				return
			}
			for _, piece := range []int{1, 5, len(tt.head)} {
				br := bufio.NewReaderSize(&piecesReader{rest: []byte(tt.head), size: piece}, 16)
				if err := ReadRequest(br, &h, limit); err != tt.want {
					t.Fatalf("ReadRequest in pieces of %d: %v, want %v", piece, err, tt.want)
				}
			}
		})
	}
}

// TestResponseRefusals: a response head's refusals are the request's
// with status 502, the upstream's fault.
func TestResponseRefusals(t *testing.T) {
	tests := []struct{ head, reason string }{
		{"HTTP/1.1 200 O\x01K\r\n\r\n", "upstream response: " + errCTL.Reason},
		{"HTTP/1.1 200 O\rK\r\n\r\n", "upstream response: " + errBareCR.Reason},
		{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "upstream response: " + errObsFold.Reason},
		{"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "upstream response: " + errFieldName.Reason},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 1<<10) + "\r\n\r\n", errRespLarge.Reason},
	}
	for _, tt := range tests {
		var h Head
		_, err := ParseResponse([]byte(tt.head), &h, 1<<10, "GET")
		if e, ok := err.(*Error); !ok || e.Status != 502 || e.Reason != tt.reason {
			t.Errorf("%q: %v, want 502 %q", tt.head, err, tt.reason)
		}
	}
}
