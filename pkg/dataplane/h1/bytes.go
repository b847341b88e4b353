package h1

// tokenByte marks the tchar bytes of RFC 9110 §5.6.2.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// tokenBit is tokenByte as 1 and 0, for checking bytes without a branch each.
var tokenBit = func() (t [256]uint8) {
	for c, ok := range tokenByte {
		if ok {
			t[c] = 1
		}
	}
	return t
}()

// hostByte is what net/http accepts in Host (httpguts.ValidHostHeader).
var hostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!$%&()*+,-.:;=[]_~'" {
		t[c] = true
	}
	return t
}()

func isToken(c byte) bool { return tokenByte[c] }

// IsToken reports whether c may appear in a field name or other token
// (RFC 9110 tchar), for code that edits what this package parsed.
func IsToken(c byte) bool { return tokenByte[c] }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isValueByte: field-vchar, SP or HTAB; obs-text (0x80-0xFF) is allowed.
func isValueByte(c byte) bool { return c == '\t' || (c >= ' ' && c != 0x7f) }

// validValue reports whether every byte of v is a value byte
// (isValueByte), eight at a time: a value is most of a head's bytes.
// The words' suspect bits are gathered without a branch, and only a
// value with a suspect byte (a tab, valid, is one) is checked byte by
// byte.
func validValue[T string | []byte](v T) bool {
	n := len(v)
	if n < 8 {
		return suspectBits(shortWord(v)) == 0 || validValueLoop(v)
	}
	m := suspectBits(load64(v[n-8:])) // the last word overlaps the one before
	for i := 0; i+8 < n; i += 8 {
		m |= suspectBits(load64(v[i : i+8]))
	}
	return m == 0 || validValueLoop(v)
}

// shortWord holds the bytes of a v shorter than 8 in a word, some of
// them twice, the rest of it 'a' (a value byte and a tchar): two
// overlapping halves from 4 bytes, the first, middle and last byte
// (which are all of them) below that.
func shortWord[T string | []byte](v T) uint64 {
	const pad = 0x6161616161616161
	switch n := len(v); {
	case n >= 4:
		return load32(v[:4]) | load32(v[n-4:])<<32
	case n > 0:
		return pad&^0xffffff | uint64(v[0]) | uint64(v[n>>1])<<8 | uint64(v[n-1])<<16
	}
	return pad
}

func validValueLoop[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if !isValueByte(v[i]) {
			return false
		}
	}
	return true
}

// load64 reads 8 bytes little-endian; the compiler makes it one load.
func load64[T string | []byte](b T) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// load32 reads 4 bytes little-endian into the low half of a word.
func load32[T string | []byte](b T) uint64 {
	_ = b[3]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
}

// suspectBits has the high bit of a byte of x set if that byte is below
// 0x20 or is 0x7f, or (a borrow's false alarm) a byte above such a one.
func suspectBits(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	y := x ^ 0x7f*ones
	return ((x-0x20*ones)&^x | (y-ones)&^y) & highs
}

// targetStopBits is suspectBits for the bytes a request target may not
// hold: those up to the space, and 0x7f.
func targetStopBits(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	y := x ^ 0x7f*ones
	return ((x-0x21*ones)&^x | (y-ones)&^y) & highs
}

// nameStopBits has the high bit of a byte of x set if that byte is
// not an ASCII letter, digit or '-', the bytes of nearly every field
// name; exact for each byte, as no sum carries out of its byte: each
// range test adds to the byte's low seven bits, which stay below 0x100.
func nameStopBits(x uint64) uint64 {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	c := x & lows
	l := c | 0x20*ones                                         // a letter in lower case
	letter := (l + (0x80-'a')*ones) &^ (l + (0x80-'z'-1)*ones) // 'a' <= l <= 'z'
	digit := (c + (0x80-'0')*ones) &^ (c + (0x80-'9'-1)*ones)  // '0' <= c <= '9'
	dash := c ^ '-'*ones                                       // zero where c is '-'
	dash = ^(dash + lows | dash)                               // high bit set where it is
	return (^(letter | digit | dash) | x) & highs              // and bytes of 0x80 and up stop
}

// isTargetByte: no whitespace, no control characters.
func isTargetByte(c byte) bool { return c > ' ' && c != 0x7f }

// hostBit is hostByte as 1 and 0, for checking bytes without a branch each.
var hostBit = func() (t [256]uint8) {
	for c, ok := range hostByte {
		if ok {
			t[c] = 1
		}
	}
	return t
}()

// validHost reports whether every byte of h is a Host byte (hostByte),
// four at a time as ValidFieldName checks a name.
func validHost(h []byte) bool {
	for ; len(h) >= 4; h = h[4:] {
		if hostBit[h[0]]&hostBit[h[1]]&hostBit[h[2]]&hostBit[h[3]] == 0 {
			return false
		}
	}
	for _, c := range h {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with s, which must be lower case, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		// Bytes sent in s's case, most of them, cost one comparison; c|0x20
		// is lower(c) where s[i] is a letter, and only there is it asked.
		if c := b[i]; c != s[i] && (c|0x20 != s[i] || s[i] < 'a' || s[i] > 'z') {
			return false
		}
	}
	return true
}

// equalFoldName is equalFold for an s of lower-case letters, digits and
// '-' only (the names and tokens noteField looks for), a word at a time
// where s is 4 to 24 long: words of eight bytes from 8 on (the last
// overlapping the one before), two halves of four below.
func equalFoldName(b []byte, s string) bool {
	n := len(s)
	switch {
	case len(b) != n:
		return false
	case n >= 8 && n <= 24:
		return foldWordEqual(load64(b[n-8:]), load64(s[n-8:])) && foldWordEqual(load64(b), load64(s)) &&
			(n <= 16 || foldWordEqual(load64(b[8:]), load64(s[8:])))
	case n >= 4 && n < 8:
		return foldWordEqual(load32(b)|load32(b[n-4:])<<32, load32(s)|load32(s[n-4:])<<32)
	}
	return equalFold(b, s)
}

// foldWordEqual compares the 8 bytes of x with those of s, which are
// lower-case letters, digits or '-': bit 0x40 marks a letter of s, and
// shifted to 0x20 it is the one bit in which a byte of x may differ
// from it there; elsewhere the bytes must be equal.
func foldWordEqual(x, s uint64) bool { return x|(s&0x4040404040404040)>>1 == s }

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
