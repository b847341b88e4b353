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
