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
func validValue[T string | []byte](v T) bool {
	if len(v) < 8 {
		return validValueLoop(v)
	}
	for i := 0; i < len(v); i += 8 {
		i = min(i, len(v)-8) // the last word overlaps the one before
		if swarSuspect(load64(v[i:i+8])) && !validValueLoop(v[i:i+8]) {
			return false // a control byte or DEL; a tab alone is suspect but valid
		}
	}
	return true
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

// swarSuspect reports whether one of the 8 bytes in x is below 0x20 or
// is 0x7f (the "has less than" and "has zero" bit tricks, exact as a
// yes/no for the whole word): only then are the bytes checked one by one.
func swarSuspect(x uint64) bool { return suspectBits(x) != 0 }

// suspectBits has the high bit of a byte of x set if that byte is below
// 0x20 or is 0x7f, or (a borrow's false alarm) a byte above such a one.
func suspectBits(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	y := x ^ 0x7f*ones
	return ((x-0x20*ones)&^x | (y-ones)&^y) & highs
}

// isTargetByte: no whitespace, no control characters.
func isTargetByte(c byte) bool { return c > ' ' && c != 0x7f }

func validHost(h []byte) bool {
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
// '-' only (the names and tokens noteField looks for), eight bytes at a
// time where s is 8 to 16 long: two words, the second overlapping the
// first. Small enough to inline, where s's words are constants.
func equalFoldName(b []byte, s string) bool {
	if n := len(s); len(b) == n && n >= 8 && n <= 16 {
		return foldWordEqual(load64(b), load64(s)) && foldWordEqual(load64(b[n-8:]), load64(s[n-8:]))
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
