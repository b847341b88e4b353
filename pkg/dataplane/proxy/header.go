package proxy

import (
	"iter"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// Response is the upstream response as ResponseFilter sees it: what is
// sent downstream. A phase may change the status and the fields; the
// body is the upstream's.
type Response struct {
	StatusCode int
	Header     Header
}

// Header is a request's or a response's fields as field lines (see
// Request, Response), in the order they came,
// names spelled as they came: nginx forwards an HTTP/1 response so, and
// Pingora's ResponseHeader keeps them so too (HAProxy and Envoy send
// names in lower case unless told otherwise; names are case-insensitive,
// RFC 9110 §5.1, but people read heads and a few clients are picky). A
// name sent on several lines is several fields. Names compare without regard
// to ASCII case. Over HTTP/1 the list is handed to the server's writer,
// or the proxy's HTTP/1 client, as it is, with no header map in between.
//
// Its strings are valid until Logging returns (see Session); Clone
// copies them. A field a phase sets is checked when it is written: one
// whose name is not a token or whose value holds CR, LF or NUL is left
// out, as net/http leaves such fields out.
type Header struct {
	fields []h1.HeadField
}

// Len is the number of field lines.
func (h *Header) Len() int { return len(h.fields) }

// Get is the value of the first field named name, "" if there is none.
func (h *Header) Get(name string) string {
	if i := h.index(name); i >= 0 {
		return h.fields[i].Value
	}
	return ""
}

// Has reports whether a field is named name.
func (h *Header) Has(name string) bool { return h.index(name) >= 0 }

// Values yields the values of the fields named name, in order.
func (h *Header) Values(name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range h.fields {
			if h1.SameName(h.fields[i].Name, name) && !yield(h.fields[i].Value) {
				return
			}
		}
	}
}

// All yields every field's name and value, in order.
func (h *Header) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range h.fields {
			if !yield(h.fields[i].Name, h.fields[i].Value) {
				return
			}
		}
	}
}

// Set makes value the one value of name: the first field of that name
// takes it, and the name as given, in its place; the others go. Without
// one the field is added at the end.
func (h *Header) Set(name, value string) {
	i := h.index(name)
	if i < 0 {
		h.Add(name, value)
		return
	}
	h.fields[i] = h1.HeadField{Name: name, Value: value}
	h.fields = append(h.fields[:i+1], deleteNamed(h.fields[i+1:], name)...)
}

// Add adds a field at the end.
func (h *Header) Add(name, value string) {
	h.fields = append(h.fields, h1.HeadField{Name: name, Value: value})
}

// Append adds value to the last field named name, comma-separated, as a
// list-valued field's lines may be combined (RFC 9110 §5.3), or adds the
// field when there is none. Set-Cookie is not such a field: Add it.
func (h *Header) Append(name, value string) {
	for i := len(h.fields) - 1; i >= 0; i-- {
		if f := &h.fields[i]; h1.SameName(f.Name, name) {
			*f = h1.HeadField{Name: f.Name, Value: f.Value + "," + value}
			return
		}
	}
	h.Add(name, value)
}

// Del removes every field named name.
func (h *Header) Del(name string) { h.fields = deleteNamed(h.fields, name) }

// Clone is the fields as a new http.Header (canonical keys, the values
// of a name in order), its strings copied: what outlives the request.
func (h *Header) Clone() http.Header {
	out := make(http.Header, len(h.fields))
	for _, f := range h.fields {
		key := strings.Clone(textproto.CanonicalMIMEHeaderKey(f.Name))
		out[key] = append(out[key], strings.Clone(f.Value))
	}
	return out
}

func (h *Header) index(name string) int {
	for i := range h.fields {
		if h1.SameName(h.fields[i].Name, name) {
			return i
		}
	}
	return -1
}

// deleteNamed removes the fields named name from fields, in place.
func deleteNamed(fields []h1.HeadField, name string) []h1.HeadField {
	kept := fields[:0]
	for _, f := range fields {
		if !h1.SameName(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear(fields[len(kept):])
	return kept
}

// headerOfMap is the fields of a header map (an HTTP/2 response's, or
// another transport's): in no particular order, each checked when written.
func headerOfMap(m http.Header) Header {
	n := 0
	for _, vv := range m {
		n += len(vv)
	}
	fields := make([]h1.HeadField, 0, n)
	for k, vv := range m {
		for _, v := range vv {
			fields = append(fields, h1.HeadField{Name: k, Value: v})
		}
	}
	return Header{fields: fields}
}

// removeHopByHop removes the hop-by-hop fields (hopHeaders, in any case)
// and those the Connection fields name, keeping the others in order. A
// head without them, the usual one but for "Connection: keep-alive", is
// looked over once and not written.
func (h *Header) removeHopByHop() {
	var buf [8]string
	options := buf[:0]
	first := -1 // the first field to go
	for i := range h.fields {
		f := &h.fields[i]
		if !isHopName(f.Name) {
			continue
		}
		if first < 0 {
			first = i
		}
		if h1.NameIs(f.Name, "connection") {
			options = appendOptions(options, f.Value)
		}
	}
	if first < 0 {
		return
	}
	if len(options) > 0 {
		first = min(first, h.firstNamed(options))
	}
	kept := h.fields[:first]
	for _, f := range h.fields[first:] {
		if !isHopName(f.Name) && !namedIn(options, f.Name) {
			kept = append(kept, f)
		}
	}
	clear(h.fields[len(kept):])
	h.fields = kept
}

// firstNamed is the index of the first field options name, len(h.fields)
// if none.
func (h *Header) firstNamed(options []string) int {
	for i := range h.fields {
		if namedIn(options, h.fields[i].Name) {
			return i
		}
	}
	return len(h.fields)
}

// appendOptions appends the options a Connection value lists, but for
// the hop-by-hop names, which go anyway ("keep-alive", mostly).
func appendOptions(options []string, v string) []string {
	for v != "" {
		var name string
		name, v, _ = strings.Cut(v, ",")
		if name = strings.TrimSpace(name); name != "" && !isHopName(name) {
			options = append(options, name)
		}
	}
	return options
}

// isHopName reports whether name, in any case, is one of hopHeaders. Most
// names are told apart by their first letter.
func isHopName(name string) bool {
	if name == "" {
		return false
	}
	switch name[0] | 0x20 {
	case 'c', 'k', 'p', 't', 'u':
	default:
		return false
	}
	switch len(name) {
	case 2:
		return h1.NameIs(name, "te")
	case 7:
		return h1.NameIs(name, "trailer") || h1.NameIs(name, "upgrade")
	case 10:
		return h1.NameIs(name, "connection") || h1.NameIs(name, "keep-alive")
	case 16:
		return h1.NameIs(name, "proxy-connection")
	case 17:
		return h1.NameIs(name, "transfer-encoding")
	case 18:
		return h1.NameIs(name, "proxy-authenticate")
	case 19:
		return h1.NameIs(name, "proxy-authorization")
	}
	return false
}

// upgradeType is the protocol a response switches to, if any.
func (h *Header) upgradeType() string {
	if h.hasToken("Connection", "upgrade") {
		return h.Get("Upgrade")
	}
	return ""
}
