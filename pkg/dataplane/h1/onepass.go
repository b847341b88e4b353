package h1

import (
	"bytes"
	"math/bits"
)

// A head is scanned once, by parseHead: it parses each line as it finds
// where the line ends (lineEnd: LF, or CRLF; a CR anywhere else is
// refused, as a bare CR is a line end to some parsers and not to others),
// and takes the first empty line after the start line for the end of the
// head.
//
// The scan stops at the first byte it cannot accept, and refusal says
// why, from that byte and its line: a bare CR in the line before anything
// else, then what the line's syntax says of the byte. A head is refused
// only once it has ended within the size limit (headEnd finds where,
// past the byte the scan stopped at): one that has not is waited for, or,
// past the limit, refused as too large however malformed. So the verdict
// never depends on how the head arrives.
//
// Most field lines are read by quickField, which accepts only the common
// shape of a line and leaves any other to scanField, the parse of a field
// line that decides.

const (
	incompleteHead = 0  // no head end within the bytes given
	refusedLine    = -1 // the scan stopped at a byte it cannot accept
)

// parseHead parses the head b begins with into h, looking no further
// than max bytes. It returns the head's length, ErrIncomplete, the
// refusal of a head too large, or that of the head's first bad line (with
// the head's length); the caller decides the framing.
func (h *Head) parseHead(b []byte, max int, response bool) (n int, err error) {
	h.reset()
	whole := len(b)
	b = b[:min(len(b), max)]
	if lf := bytes.IndexByte(b, '\n'); lf >= 0 {
		line := b[:lf]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if response {
			err = h.statusLine(line)
		} else {
			err = h.requestLine(line)
		}
		if err != nil { // they accept no CR: a bare CR stops them too
			n, err = refusal(b, 0, 0, err)
		} else {
			n, err = h.scanFields(b, lf+1)
		}
		if n > 0 {
			return n, err
		}
	}
	return 0, notYet(whole > max, response)
}

// notYet is the verdict on a head that has not ended within the limit:
// wait for more of it, or refuse it as too large.
func notYet(over, response bool) error {
	switch {
	case !over:
		return ErrIncomplete
	case response:
		return errRespLarge
	}
	return errTooLarge
}

// scanFields parses the field lines from b[i:] up to the empty line,
// returning the head's length or incompleteHead, and the refusal of the
// first bad line.
func (h *Head) scanFields(b []byte, i int) (int, error) {
	for {
		if i >= len(b) {
			return incompleteHead, nil
		}
		if c := b[i]; c == '\n' || c == '\r' {
			if n := lineEnd(b, i); n != refusedLine {
				return n, nil // the empty line, or incompleteHead
			}
			return refusal(b, i, i, nil)
		}
		colon, v, end, next := quickField(b, i)
		if next == declined {
			if colon, v, end, next = scanField(b, i); next <= 0 {
				return stopped(b, i, end, next)
			}
		}
		f := Field{Name: b[i:colon], Value: b[v:end]}
		h.Fields = append(h.Fields, f)
		if n := len(f.Name); n < len(noteFirst) && noteFirst[n] == f.Name[0]|0x20 {
			h.noteField(f) // most fields are none that noteField looks for
		}
		i = next
	}
}

// stopped is scanFields' verdict where scanField stopped short of the
// end of the line at b[s:], at b[p].
func stopped(b []byte, s, p, next int) (int, error) {
	if next == incompleteHead {
		return incompleteHead, nil
	}
	return refusal(b, s, p, nil)
}

// lineEnd is where the line whose content ends at b[i] ends: after its
// LF or CRLF; incompleteHead if b ends first; refusedLine if b[i] is
// another byte or a bare CR.
func lineEnd(b []byte, i int) int {
	switch {
	case i >= len(b):
		return incompleteHead
	case b[i] == '\n':
		return i + 1
	case b[i] == '\r':
		return crlfEnd(b, i)
	}
	return refusedLine
}

// crlfEnd is lineEnd for the CR at b[i].
func crlfEnd(b []byte, i int) int {
	switch {
	case i+1 >= len(b):
		return incompleteHead
	case b[i+1] == '\n':
		return i + 2
	}
	return refusedLine
}

// scanField scans the field line at b[i:]: a token, ':', the value
// without the whitespace around it, value bytes only, up to the line's
// end. It returns where the colon is, where the value starts and ends,
// and where the next line starts (lineEnd's verdict); for refusedLine,
// end is the byte refused or the whitespace before it. The name's or value's bounds stand where b
// ends first (for parseField). Indexes rather than a Field, which costs
// more to return and copy.
func scanField(b []byte, i int) (colon, v, end, next int) {
	colon = tokenEnd(b, i)
	switch {
	case colon >= len(b):
		return colon, colon, colon, incompleteHead
	case colon == i || b[colon] != ':':
		return colon, colon, colon, refusedLine // obs-fold, a malformed name, a line end in it
	}
	v = colon + 1
	for v < len(b) && (b[v] == ' ' || b[v] == '\t') {
		v++
	}
	end = valueEnd(b, v)
	next = lineEnd(b, end)
	// Where the line is refused, the whitespace before the refused byte
	// is no CR or LF: refusal's verdict from its first byte is the same.
	for end > v && (b[end-1] == ' ' || b[end-1] == '\t') {
		end--
	}
	return colon, v, end, next
}

// declined is quickField's next where it leaves the line to scanField.
const declined = 0

// quickField is scanField for the field line most heads are made of,
// "Name: value" and CRLF, a name of letters, digits and '-', a value of
// printable bytes (no tab) with one space or none before it and none
// after: a word at a time, with no call. For any other line, or one
// nearer the end of b than a word, its next is declined (a verdict
// scanField never gives a field line it accepts) and scanField decides;
// where it accepts a line, its verdict is scanField's
// (TestQuickFieldAgreesWithScanField).
func quickField(b []byte, i int) (colon, v, end, next int) {
	j := i
	for ; ; j += 8 {
		if j < 0 || j > len(b)-8 {
			return 0, 0, 0, declined
		}
		if m := nameStopBits(load64(b[j : j+8])); m != 0 {
			j += bits.TrailingZeros64(m) / 8
			break
		}
	}
	if j == i || b[j] != ':' {
		return 0, 0, 0, declined // a rarer tchar, or no colon after the name
	}
	k := j + 1
	if k < len(b) && b[k] == ' ' {
		k++
	}
	v = k
	for ; k >= 0 && k <= len(b)-8; k += 8 { // k >= 0 spares a bounds check
		if m := suspectBits(load64(b[k : k+8])); m != 0 {
			k += bits.TrailingZeros64(m) / 8
			return quickValueEnd(b, j, v, k)
		}
	}
	for k < len(b) && b[k] >= ' ' && b[k] != 0x7f {
		k++
	}
	return quickValueEnd(b, j, v, k)
}

// quickValueEnd is quickField's verdict on the value b[v:k] after the
// colon at b[colon], stopped at b[k], a byte below ' ' or DEL: a line end
// in CRLF with no whitespace around the value is accepted.
func quickValueEnd(b []byte, colon, v, k int) (int, int, int, int) {
	switch {
	case k+1 >= len(b) || b[k] != '\r' || b[k+1] != '\n':
		return 0, 0, 0, declined
	case k > v && (b[v] == ' ' || b[k-1] == ' '):
		return 0, 0, 0, declined
	}
	return colon, v, k, k + 2
}

// refusal is the verdict on a head whose scan stopped at b[p], in the
// line that starts at b[s]: the head's length and why that line is
// refused (lineErr, or fieldErr's reason for a field line), or
// incompleteHead if the head has not ended within b.
func refusal(b []byte, s, p int, lineErr error) (int, error) {
	n := headEnd(b, p)
	switch {
	case n < 0:
		return incompleteHead, nil
	case bareCR(b[p:]):
		return n, errBareCR
	case lineErr == nil:
		lineErr = fieldErr(b, s, p)
	}
	return n, lineErr
}

// bareCR reports whether the line b begins with (up to its LF, which
// it has) holds a CR other than the one before its LF. The scan accepts
// no CR before the byte it stopped at, so this finds the line's first.
func bareCR(b []byte) bool {
	line := b[:bytes.IndexByte(b, '\n')]
	cr := bytes.IndexByte(line, '\r')
	return cr >= 0 && cr < len(line)-1
}

// fieldErr is why the field line at b[s:] was refused at b[p], a bare
// CR aside: a line starting with whitespace continues the one before
// (obs-fold); one stopped where the name ends has no valid name or no
// colon right after it (RFC 9112 §5.1: no whitespace before the colon);
// otherwise a control byte or DEL is in the value.
func fieldErr(b []byte, s, p int) error {
	switch {
	case s < len(b) && (b[s] == ' ' || b[s] == '\t'):
		return errObsFold
	case p == tokenEnd(b, s):
		return errFieldName
	}
	return errCTL
}

// parseField parses a field line without its line end (a trailer's, in
// which the chunked reader has already refused any CR) as the head's
// field lines are parsed.
func parseField(line []byte) (Field, error) {
	colon, v, end, next := scanField(line, 0)
	if next == refusedLine || v == colon {
		return Field{}, fieldErr(line, 0, end)
	}
	return Field{Name: line[:colon], Value: trimOWS(line[v:])}, nil
}

// headEnd is the length of the head b begins with (up to and including
// its empty line), looking for the LF before that line from from; -1 if
// it is not complete. It reads no line but for where it ends (lineEnd),
// for the heads the scan does not parse to their end: refused ones, and
// the end of one gathered in pieces (readSpilled, HeadBuffered).
func headEnd(b []byte, from int) int {
	for i := max(from, 0); i < len(b); i++ {
		lf := bytes.IndexByte(b[i:], '\n')
		if lf < 0 {
			return -1
		}
		i += lf
		if n := lineEnd(b, i+1); n > 0 {
			return n
		}
	}
	return -1
}

// valueEnd is the index of the first byte from b[i:] that is not a value
// byte (isValueByte): the CR or LF that ends the line, or one to refuse;
// len(b) if there is none. It checks eight bytes at a time as validValue
// does; the lowest byte suspectBits flags is exact (a borrow only
// flags bytes above the one that caused it), and read from the word; a
// tab, valid but suspect, is stepped over.
func valueEnd(b []byte, i int) int {
	if i < 0 {
		return i // not reached; it tells the compiler that b[j:j+8] is in bounds
	}
	for j := i; j <= len(b)-8; j += 8 {
		x := load64(b[j : j+8])
		if m := suspectBits(x); m != 0 {
			at := bits.TrailingZeros64(m) &^ 7 // the bit the byte starts at
			if byte(x>>at) != '\t' {
				return j + at/8
			}
			return valueEnd(b, j+at/8+1)
		}
		i = j + 8
	}
	for i < len(b) && isValueByte(b[i]) {
		i++
	}
	return i
}

// tokenEnd is the index of the first byte from b[i:] that is not a tchar
// (isToken), len(b) if there is none. It skips eight bytes at a time
// while they are letters, digits and '-' (nameStopBits); the first byte
// that is not is exactly where the name ends, but for a rarer tchar, which
// is stepped over.
func tokenEnd(b []byte, i int) int {
	if i < 0 {
		return i // not reached; it tells the compiler that b[j:j+8] is in bounds
	}
	for j := i; j <= len(b)-8; j += 8 {
		x := load64(b[j : j+8])
		if m := nameStopBits(x); m != 0 {
			at := bits.TrailingZeros64(m) &^ 7 // the bit the byte starts at
			if !tokenByte[byte(x>>at)] {
				return j + at/8
			}
			return tokenEnd(b, j+at/8+1)
		}
		i = j + 8
	}
	for i < len(b) && tokenByte[b[i]] {
		i++
	}
	return i
}

// targetEnd is the index of the first byte of b that is not a request
// target's (isTargetByte), len(b) if there is none; eight bytes at a
// time as valueEnd, whose suspect bytes are a target's but for the space
// (targetStopBits).
func targetEnd(b []byte) int {
	i := 0
	for j := 0; j <= len(b)-8; j += 8 {
		x := load64(b[j : j+8])
		if m := targetStopBits(x); m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
		i = j + 8
	}
	for i < len(b) && isTargetByte(b[i]) {
		i++
	}
	return i
}
