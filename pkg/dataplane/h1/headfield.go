package h1

// HeadField is one field line of a response head as a handler hands it
// to an HTTP/1 writer (pkg/dataplane/server's response, through its
// SetFields): written as it is, name spelled as given, in the order
// given. The proxy builds its response's fields as a list of these, so
// that the server writes them without a header map in between.
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
