package h1

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The scans that find line ends and check values skip ahead a word or
// a vector at a time; these tests hold them to the byte-at-a-time rules
// they replace, refusals and their reasons included.

// refHeadEnd, refNextLine, refValidValue, refValidHost, refValueEnd, refTokenEnd and
// refTargetEnd are the byte-at-a-time scans; refNextLine refuses a bare
// CR as the parser does.
func refHeadEnd(b []byte, from int) int {
	for i := max(from, 0); i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

func refNextLine(b []byte) (line, rest []byte, err error) {
	for i, c := range b {
		switch c {
		case '\n':
			line = b[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, b[i+1:], nil
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return nil, nil, errBareCR
			}
		}
	}
	return b, nil, nil
}

func refValidValue(v []byte) bool {
	for _, c := range v {
		if !isValueByte(c) {
			return false
		}
	}
	return true
}

func refValidHost(h []byte) bool {
	for _, c := range h {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

func refValueEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if !isValueByte(b[i]) {
			return i
		}
	}
	return len(b)
}

func refTokenEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if !isToken(b[i]) {
			return i
		}
	}
	return len(b)
}

func refTargetEnd(b []byte) int {
	for i, c := range b {
		if !isTargetByte(c) {
			return i
		}
	}
	return len(b)
}

func checkScans(t *testing.T, b []byte) {
	t.Helper()
	if got, want := targetEnd(b), refTargetEnd(b); got != want {
		t.Fatalf("targetEnd(%q) = %d, want %d", b, got, want)
	}
	for from := range min(len(b), 9) + 1 {
		if got, want := tokenEnd(b, from), refTokenEnd(b, from); got != want {
			t.Fatalf("tokenEnd(%q, %d) = %d, want %d", b, from, got, want)
		}
	}
	for from := range min(len(b), 3) + 1 {
		if got, want := headEnd(b, from), refHeadEnd(b, from); got != want {
			t.Fatalf("headEnd(%q, %d) = %d, want %d", b, from, got, want)
		}
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		_, _, werr := refNextLine(b)
		if got, want := bareCR(b), werr == errBareCR; got != want {
			t.Fatalf("bareCR(%q) = %v, want %v", b, got, want)
		}
	}
	if len(b) > 0 && bytes.IndexAny(b, "\r\n") < 0 {
		f, err := parseField(b)
		wf, werr := refParseField(b)
		if string(f.Name) != string(wf.Name) || string(f.Value) != string(wf.Value) || err != werr {
			t.Fatalf("parseField(%q) = %q, %q, %v; want %q, %q, %v", b, f.Name, f.Value, err, wf.Name, wf.Value, werr)
		}
	}
	for from := range min(len(b), 3) + 1 {
		checkQuickField(t, b, from)
	}
	if got, want := validHost(b), refValidHost(b); got != want {
		t.Fatalf("validHost(%q) = %v, want %v", b, got, want)
	}
	if got, want := validValue(b), refValidValue(b); got != want {
		t.Fatalf("validValue(%q) = %v, want %v", b, got, want)
	}
	if got, want := validValue(string(b)), refValidValue(b); got != want {
		t.Fatalf("validValue(string %q) = %v, want %v", b, got, want)
	}
	for from := range min(len(b), 9) + 1 {
		if got, want := valueEnd(b, from), refValueEnd(b, from); got != want {
			t.Fatalf("valueEnd(%q, %d) = %d, want %d", b, from, got, want)
		}
	}
}

// TestValueBytesEachPosition puts every byte value at every position of
// values up to three words long, in a valid value of printable bytes.
func TestValueBytesEachPosition(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for pos := range n {
			for c := range 256 {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				checkScans(t, b)
				b[(pos+5)%n] = '\t' // a tab elsewhere in the word (valid, but suspect)
				checkScans(t, b)
			}
		}
	}
}

// TestNameBytesEachPosition puts every byte value at every position of
// names up to three words long, ending where the buffer does or with a
// colon and a value, for the word-at-a-time tokenEnd.
func TestNameBytesEachPosition(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for pos := range n {
			for c := range 256 {
				b := []byte(strings.Repeat("N", n))
				b[pos] = byte(c)
				checkScans(t, b)
				checkScans(t, append(b, ": v\r\n"...))
				b[(pos+3)%n] = '_' // a rarer tchar elsewhere in the word
				checkScans(t, b)
			}
		}
	}
}

// checkQuickField holds quickField to scanField: where it accepts the
// line at b[from:], it says what scanField says.
func checkQuickField(t *testing.T, b []byte, from int) {
	t.Helper()
	colon, v, end, next := quickField(b, from)
	if next == declined {
		return
	}
	wc, wv, we, wn := scanField(b, from)
	if colon != wc || v != wv || end != we || next != wn {
		t.Fatalf("quickField(%q, %d) = %d, %d, %d, %d; scanField: %d, %d, %d, %d", b, from, colon, v, end, next, wc, wv, we, wn)
	}
}

// TestQuickFieldAgreesWithScanField puts every byte value at every
// position of field lines whose names and values are up to three words
// long, with and without the whitespace quickField leaves to scanField,
// and checks that it never accepts a line otherwise than scanField; that
// it accepts the common lines is what BenchmarkParse measures.
func TestQuickFieldAgreesWithScanField(t *testing.T) {
	for _, form := range []string{"%s:%s\r\n\r\n", "%s: %s\r\nX: y\r\n", "%s:  %s \r\n", "%s: %s\n\n", "%s: %s\r\n"} {
		for n := 1; n <= 20; n++ {
			line := fmt.Sprintf(form, strings.Repeat("N", n), strings.Repeat("v", 21-n))
			for pos := range len(line) {
				for c := range 256 {
					b := []byte(line)
					b[pos] = byte(c)
					checkQuickField(t, b, 0)
				}
			}
		}
	}
	if _, _, _, next := quickField([]byte("Content-Type: text/html\r\n\r\n"), 0); next == declined {
		t.Error("quickField declines a common field line")
	}
}

// specialBytes are the bytes the scans treat apart.
var specialBytes = []byte{'\r', '\n', 0, 0x1f, 0x7f, 0x80, 0xff, '\t', ':', ' ', '-', '_', '/', '@', '[', '`', '{'}

func FuzzScansAgainstByteLoops(f *testing.F) {
	for _, s := range []string{get, postCL, chunked, obsFold, "a\r\r\nb", "x\rb\n\n", "\t\x7f\x80\xff", "v\n\r\n"} {
		f.Add([]byte(s))
	}
	// Each special byte at each offset of two words, in a name and in a
	// value, and as the buffer's last byte.
	for _, c := range specialBytes {
		for pos := range 16 {
			for _, fill := range []string{"Content-Length09", "x-y: 0123456789a"} {
				b := []byte(fill + fill)
				b[pos] = c
				f.Add(b[:16])
				f.Add(b[:pos+1])
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScans(t, b) })
}

// TestEqualFoldEachByte compares every byte with every byte of the
// lower-case names and tokens the parser looks for.
func TestEqualFoldEachByte(t *testing.T) {
	for _, s := range []string{"content-length", "100-continue", "keep-alive", "x_~.!#$%&'*+^`|09"} {
		for i := range len(s) {
			for c := range 256 {
				b := []byte(s)
				b[i] = byte(c)
				if got, want := equalFold(b, s), lower(byte(c)) == s[i]; got != want {
					t.Fatalf("equalFold(%q, %q) = %v, want %v", b, s, got, want)
				}
			}
		}
	}
}

// TestValidFieldNameEachByte puts every byte value at every position of
// names up to 12 long, against the byte loop.
func TestValidFieldNameEachByte(t *testing.T) {
	for n := 1; n <= 12; n++ {
		for pos := range n {
			for c := range 256 {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				want := true
				for _, c := range b {
					want = want && isToken(c)
				}
				if got := ValidFieldName(string(b)); got != want {
					t.Fatalf("ValidFieldName(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	if ValidFieldName("") {
		t.Error("the empty name is valid")
	}
}
