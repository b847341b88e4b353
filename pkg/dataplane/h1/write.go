package h1

import (
	"bufio"
	"net/http"
	"strconv"
)

// ChunkedWriter writes a body in the chunked coding to w: each Write is
// one chunk, Close writes the last chunk and the trailer section.
type ChunkedWriter struct {
	w   *bufio.Writer
	hex [16]byte
}

// Reset directs c to w.
func (c *ChunkedWriter) Reset(w *bufio.Writer) { c.w = w }

// Write writes p as one chunk; an empty p writes nothing (a zero-size
// chunk would end the body).
func (c *ChunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	_, _ = c.w.Write(strconv.AppendUint(c.hex[:0], uint64(len(p)), 16))
	_, _ = c.w.WriteString("\r\n")
	_, _ = c.w.Write(p)
	_, err := c.w.WriteString("\r\n")
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the last chunk and trailer, which may be nil. Fields whose
// names or values a recipient would misread (CR, LF, NUL) are left out.
func (c *ChunkedWriter) Close(trailer http.Header) error {
	_, _ = c.w.WriteString("0\r\n")
	for name, values := range trailer {
		for _, v := range values {
			WriteField(c.w, name, v)
		}
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// WriteField writes "name: value\r\n", unless name is not a token or value
// holds a byte a field value may not: such a field could split the message.
func WriteField(w *bufio.Writer, name, value string) {
	if !ValidFieldName(name) || !ValidFieldValue(value) {
		return
	}
	WriteCheckedField(w, name, value)
}

// WriteCheckedField writes "name: value\r\n" whose name and value are
// known to be valid (see HeadField.Checked).
func WriteCheckedField(w *bufio.Writer, name, value string) {
	if w.Available() < len(name)+len(value)+4 {
		_, _ = w.WriteString(name)
		_, _ = w.WriteString(": ")
		_, _ = w.WriteString(value)
		_, _ = w.WriteString("\r\n")
		return
	}
	// One Write of the line built in place, rather than four.
	b := append(w.AvailableBuffer(), name...)
	b = append(b, ": "...)
	b = append(b, value...)
	_, _ = w.Write(append(b, "\r\n"...))
}

// ValidFieldName reports whether name is a token.
func ValidFieldName(name string) bool {
	if name == "" {
		return false
	}
	i := 0
	for ; i+4 <= len(name); i += 4 {
		// Four table lookups and one branch, not four branches.
		if tokenBit[name[i]]&tokenBit[name[i+1]]&tokenBit[name[i+2]]&tokenBit[name[i+3]] == 0 {
			return false
		}
	}
	for ; i < len(name); i++ {
		if !isToken(name[i]) {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether v may be sent as a field value.
func ValidFieldValue(v string) bool { return validValue(v) }
