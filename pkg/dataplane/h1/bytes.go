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
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

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
