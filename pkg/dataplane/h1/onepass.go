package h1

import (
	"bytes"
	"math/bits"
)

// The one-pass parse walks a head's bytes once, finding where it ends as
// it parses its lines, where the strict parse (headEnd, then nextLine and
// parseField per line) walks them twice and runs two IndexByte calls per
// line. It decides only what it can decide exactly as the strict parse
// would: a head that parses (n > 0), and a head whose end has not yet
// arrived within the limit (n == 0). Anything it would refuse it hands
// to the strict parse (n < 0), which alone gives refusals, so that their
// status, reason and precedence (a too large head before a malformed
// one, a bare CR before the rest of its line) stay the strict parse's.

const (
	incompleteHead = 0  // no head end within the bytes given
	strictVerdict  = -1 // refused, or unsure: the strict parse decides
)

// onePass parses the head b begins with into h, looking no further than
// max bytes. It returns the head's length, incompleteHead or
// strictVerdict (h then holds a partial head).
func (h *Head) onePass(b []byte, max int, response bool) int {
	b = b[:min(len(b), max)]
	h.reset()
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		return incompleteHead
	}
	// No CR check on the start line: requestLine and statusLine take
	// no CR or other control byte in it but the one stripped here.
	line := b[:lf]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	var err error
	if response {
		err = h.statusLine(line)
	} else {
		err = h.requestLine(line)
	}
	if err != nil {
		return strictVerdict
	}
	return h.scanFields(b, lf+1)
}

// scanFields parses the field lines from b[i:] up to the empty line,
// returning the head's length, incompleteHead or strictVerdict. Every LF
// it meets ends a line, and after each it checks for the empty line: it
// finds the same end as headEnd.
func (h *Head) scanFields(b []byte, i int) int {
	for {
		if i >= len(b) {
			return incompleteHead
		}
		switch b[i] {
		case '\n':
			return i + 1
		case '\r':
			return crlfEnd(b, i)
		}
		colon, v, end, next := scanField(b, i)
		if next <= 0 {
			return next
		}
		f := Field{Name: b[i:colon], Value: b[v:end]}
		h.Fields = append(h.Fields, f)
		h.noteField(f)
		i = next
	}
}

// crlfEnd is what follows a CR at b[i]: the length up to its LF, or
// incompleteHead at the end of b; a bare CR is strictVerdict.
func crlfEnd(b []byte, i int) int {
	switch {
	case i+1 >= len(b):
		return incompleteHead
	case b[i+1] == '\n':
		return i + 2
	}
	return strictVerdict
}

// scanField parses the field line at b[i:] as parseField does (a token,
// ':', the value without the whitespace around it, value bytes only, no
// CR but before the LF). It returns where the colon is, where the value
// starts and ends, and where the next line starts, or incompleteHead or
// strictVerdict there; indexes rather than a Field, which costs more to
// return and copy.
func scanField(b []byte, i int) (colon, v, end, next int) {
	start := i
	colon = tokenEnd(b, i)
	switch {
	case colon >= len(b):
		return 0, 0, 0, incompleteHead
	case colon == start || b[colon] != ':':
		return 0, 0, 0, strictVerdict // obs-fold, a malformed name, a CR or LF in it
	}
	i = colon + 1
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	v = i
	end = valueEnd(b, i)
	next = incompleteHead
	switch {
	case end >= len(b):
	case b[end] == '\n':
		next = end + 1
	case b[end] == '\r':
		next = crlfEnd(b, end)
	default:
		next = strictVerdict // a control byte or DEL
	}
	for end > v && (b[end-1] == ' ' || b[end-1] == '\t') {
		end--
	}
	return colon, v, end, next
}

// valueEnd is the index of the first byte from b[i:] that is not a value
// byte (isValueByte): the CR or LF that ends the line, or one to refuse;
// len(b) if there is none. It checks eight bytes at a time as validValue
// does; the lowest byte swarSuspect's bits flag is exact (a borrow only
// flags bytes above the one that caused it).
func valueEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		m := suspectBits(load64(b[i : i+8]))
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) / 8
		if b[i] != '\t' {
			return i
		}
		i++
	}
	for i < len(b) && isValueByte(b[i]) {
		i++
	}
	return i
}

// tokenEnd is the index of the first byte from b[i:] that is not a tchar
// (isToken), len(b) if there is none; four bytes a step, one lookup each
// and no branch but the step's.
func tokenEnd(b []byte, i int) int {
	r := b[i:]
	for len(r) >= 4 && tokenBit[r[0]]&tokenBit[r[1]]&tokenBit[r[2]]&tokenBit[r[3]] != 0 {
		r = r[4:]
	}
	j := 0
	for j < len(r) && tokenByte[r[j]] {
		j++
	}
	return len(b) - len(r) + j
}
