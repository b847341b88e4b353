package h1

// HeadField is one field line of a head as a handler hands it to an
// HTTP/1 writer (pkg/dataplane/server's response, through its SetFields;
// the proxy's HTTP/1 client): written as it is, name spelled as given, in
// the order given. The server gives a request's fields as a list of
// these too (RequestFields), and the proxy builds the upstream request's
// and the response's from them, with no header map in between.
type HeadField struct {
	Name, Value string
	// Checked says Name is a token and Value a valid field value: the
	// parser read them so. The writer checks any other field, and
	// leaves out one that could split the message.
	Checked bool
}

// SameName reports whether two field names are equal, ignoring ASCII
// case (RFC 9110 §5.1).
func SameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c != b[i] && lower(c) != lower(b[i]) {
			return false
		}
	}
	return true
}

// NameIs reports whether name is lower in any case; lower is a name in
// lower case (letters, digits and '-' only), mostly a constant: a name
// of 8 to 16 bytes is compared a word at a time.
func NameIs(name, lower string) bool {
	// The lengths are compared where it is called: most names asked about
	// are not the one asked for, and have another length.
	return len(name) == len(lower) && nameIsSameLength(name, lower)
}

func nameIsSameLength(name, lower string) bool {
	n := len(lower)
	if n >= 8 && n <= 16 {
		return foldWordEqual(load64(name), load64(lower)) && foldWordEqual(load64(name[n-8:]), load64(lower[n-8:]))
	}
	for i := 0; i < n; i++ {
		if c := name[i]; c != lower[i] && (c|0x20 != lower[i] || lower[i] < 'a' || lower[i] > 'z') {
			return false
		}
	}
	return true
}

// IsCanonicalName reports whether every letter of name has the case
// net/textproto's canonical form gives it: upper first and after '-',
// lower elsewhere. For a token that is textproto.CanonicalMIMEHeaderKey
// returning name as it is, which most clients' names are: a word at a
// time, it spares a server the canonical key's byte-by-byte check.
func IsCanonicalName(name string) bool {
	n := len(name)
	if n < 8 {
		var x uint64
		for i := n - 1; i >= 0; i-- {
			x = x<<8 | uint64(name[i]) // zero bytes past the name: no letter, no '-'
		}
		return miscasedBits(x, 0x80) == 0
	}
	afterDash := uint64(0x80) // the first letter is upper, as one after a '-'
	for i := 0; i < n-8; i += 8 {
		x := load64(name[i : i+8])
		if miscasedBits(x, afterDash) != 0 {
			return false
		}
		afterDash = dashBits(x) >> 56
	}
	// The last word overlaps the one before; its first byte follows
	// name[n-9], or begins the name.
	if n > 8 {
		afterDash = 0
		if name[n-9] == '-' {
			afterDash = 0x80
		}
	}
	return miscasedBits(load64(name[n-8:]), afterDash) == 0
}

// miscasedBits has the high bit of a byte of x set where that byte is a
// letter in the case canonical form does not give it; afterDash has the
// high bit of the first byte set if that byte comes first or after '-'.
// Exact for each byte: no sum carries out of its byte (see nameStopBits).
func miscasedBits(x, afterDash uint64) uint64 {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	l := x&lows | 0x20*ones                                                 // a letter in lower case
	letter := (l + (0x80-'a')*ones) &^ (l + (0x80-'z'-1)*ones) &^ x & highs // 'a' <= l <= 'z', below 0x80
	upper := ^(x << 2) & highs                                              // bit 0x20 clear
	wantUpper := dashBits(x)<<8 | afterDash
	return letter & (upper ^ wantUpper)
}

// dashBits has the high bit of a byte of x set where that byte is '-'.
func dashBits(x uint64) uint64 {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	d := x ^ '-'*ones                     // zero where x is '-'
	return ^((d&lows + lows) | d) & highs // high bit set only where d is zero
}
