package proxy

import (
	"net/http"
	"net/textproto"
	"strconv"
	"unsafe"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

const (
	// maxResponseHead bounds a response head (and a trailer section): a
	// larger one is a 502. nginx stops at 4 or 8 KiB (proxy_buffer_size);
	// this leaves room for applications with many cookies.
	maxResponseHead = 64 << 10
)

// readHead reads the next response head into pc.h; its views stay valid
// until the connection is read again.
func (pc *h1Conn) readHead(method string) error {
	return h1.ReadResponse(pc.br, &pc.h, maxResponseHead, method)
}

// response turns the head in pc.h into the *http.Response the proxy
// works with, its body framed by pc.body. Field values share one string.
func (pc *h1Conn) response(req *http.Request) *http.Response {
	h := &pc.h
	pc.last = responseFor(req)
	resp := &pc.last.resp
	*resp = http.Response{
		StatusCode: h.Status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: h.Minor,
		Header: pc.last.headerOf(h.Fields), Close: h.Close, Request: req, Body: http.NoBody,
	}
	if h.Minor == 0 {
		resp.Proto = "HTTP/1.0"
	}
	resp.Status = statusLine(h.Status, h.Reason)
	switch h.Framing {
	case h1.Length:
		resp.ContentLength = h.ContentLength
	case h1.Chunked:
		resp.ContentLength = -1
		resp.TransferEncoding = chunkedCoding
		resp.Trailer = declaredTrailer(resp.Header)
	case h1.UntilClose:
		resp.ContentLength = -1
	default: // a HEAD response keeps the length it declares
		resp.ContentLength = 0
		if req.Method == http.MethodHead {
			resp.ContentLength = h.ContentLength
		}
	}
	if h.Framing != h1.NoBody && !(h.Framing == h1.Length && h.ContentLength == 0) {
		pc.body.Reset(pc.br, h, maxResponseHead)
		resp.Body = nil // deliver sets the body that reads pc.body
	}
	return resp
}

var chunkedCoding = []string{"chunked"}

// h1Response is a response and its body in one allocation, with the
// storage of its header. An exchange keeps one for its requests (see
// responseFor); the others are made per response.
type h1Response struct {
	resp   http.Response
	body   h1Body
	header http.Header // reused: its map, value slots and value bytes
	slots  []string
	values []byte
	names  []string // the keys of the previous response, field by field
	order  h1.FieldOrder
	reused bool // an exchange's: values is written again for its next request
}

// responseFor is the storage of the response to req: its exchange's
// when it has one (reset; the previous response on the connection is no
// longer used), else new.
func responseFor(req *http.Request) *h1Response {
	x := exchangeOf(req)
	if x == nil || x.respUsed {
		return &h1Response{}
	}
	x.respUsed = true
	r := &x.resp
	r.resp = http.Response{}
	r.body = h1Body{}
	r.reused = true
	return r
}

// headerOf copies fields into an http.Header: one string holds every
// value, one slice every value's slot, and common names are not copied.
// A reused h1Response reuses all three, so its values are valid until
// the exchange's next request (see Session), and notes the keys' order
// for the downstream writer (see h1.FieldOrder).
func (r *h1Response) headerOf(fields []h1.Field) http.Header {
	values := r.valueString(fields)
	slots := r.slots[:0]
	if cap(slots) < len(fields) || !r.reused {
		slots = make([]string, len(fields))
	}
	slots = slots[:len(fields)]
	hdr := r.header
	if hdr == nil || !r.reused {
		hdr = make(http.Header, len(fields))
	}
	clear(hdr)
	o := &r.order
	if r.reused {
		o.Reset(values, slots, nil)
	}
	cache := r.names
	if r.reused {
		r.header, r.slots = hdr, slots
	}
	if !r.reused || len(fields) > maxPooledFields {
		cache = nil
	}
	at := 0
	for i, f := range fields {
		v := values[at : at+len(f.Value)]
		at += len(f.Value)
		name := cachedName(cache, i, f.Name)
		if r.reused && len(fields) <= maxPooledFields {
			cache = setName(cache, i, name)
		}
		if !firstOfKey(hdr, o, name, i, r.reused && len(fields) <= 16) {
			hdr[name] = append(hdr[name], v)
			continue
		}
		slots[i] = v
		vv := slots[i : i+1 : i+1]
		hdr[name] = vv
		if r.reused {
			o.Note(name, vv) // a canonical token
		}
	}
	if r.reused {
		r.names = cache[:min(len(cache), len(fields))]
	}
	return hdr
}

// valueString copies the fields' values into one string, in the
// response's reused bytes if it has them.
func (r *h1Response) valueString(fields []h1.Field) string {
	size := 0
	for _, f := range fields {
		size += len(f.Value)
	}
	all := r.values[:0]
	if cap(all) < size || !r.reused {
		all = make([]byte, 0, size)
	}
	for _, f := range fields {
		all = append(all, f.Value...)
	}
	if r.reused {
		r.values = all
	}
	return unsafe.String(unsafe.SliceData(all), len(all)) // written again only by the exchange's next response
}

// firstOfKey reports whether key is not in hdr yet: a short head whose
// keys o notes tells by them, cheaper than a map lookup (a string hash).
// Field i is the one it is asked for.
func firstOfKey(hdr http.Header, o *h1.FieldOrder, key string, i int, short bool) bool {
	if short {
		return !o.Has(key, i)
	}
	_, ok := hdr[key]
	return !ok
}

// fieldOrderer is the server's HTTP/1 response writer, which writes a
// header it was handed in the order its fields came.
type fieldOrderer interface{ OrderFields(o *h1.FieldOrder) }

// orderFields has w write the header the exchange's response built (and
// handed over) in o's order, if it can.
func orderFields(w http.ResponseWriter, o *h1.FieldOrder) {
	if fo, ok := w.(fieldOrderer); ok {
		fo.OrderFields(o)
	}
}

// setName records the key of field i for the next response. A key is a
// constant or a string CanonicalMIMEHeaderKey made: no view of a buffer.
func setName(names []string, i int, name string) []string {
	if i < len(names) {
		if !sameString(names[i], name) { // mostly it is: no write (nor its barrier)
			names[i] = name
		}
		return names
	}
	return append(names, name)
}

// sameString reports whether a and b are one string (not merely equal).
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// cachedName is the key of field i: an upstream sends the same names in
// the same order response after response, so the previous response's
// key, when it is the name as sent, spares the lookup of canonicalName.
func cachedName(names []string, i int, name []byte) string {
	if i < len(names) && names[i] == string(name) {
		return names[i]
	}
	return canonicalName(name)
}

// trim drops header storage grown for an unusually large response.
func (r *h1Response) trim() {
	if len(r.header) > maxPooledFields || cap(r.slots) > 4*maxPooledFields || cap(r.values) > 16<<10 {
		r.header, r.slots, r.values, r.names = nil, nil, nil, nil
		r.order = h1.FieldOrder{}
	}
	r.resp, r.body = http.Response{}, h1Body{}
}

// canonicalName is the canonical form of a field name; the common ones,
// sent canonical, cost no allocation.
func canonicalName(name []byte) string {
	if s, ok := commonNames[string(name)]; ok {
		return s
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

var commonNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Accept-Ranges", "Age", "Cache-Control", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range",
		"Content-Security-Policy", "Content-Type", "Date", "Etag", "ETag", "Expires", "Keep-Alive", "Last-Modified",
		"Link", "Location", "Pragma", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security",
		"Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Via", "Www-Authenticate", "WWW-Authenticate",
		"X-Content-Type-Options", "X-Frame-Options", "X-Request-Id", "X-Request-ID"} {
		m[n] = textproto.CanonicalMIMEHeaderKey(n)
		m[textproto.TrimString(lower(n))] = m[n]
	}
	return m
}()

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// statusLine is http.Response.Status: "200 OK".
func statusLine(code int, reason []byte) string {
	if code < len(standardStatus) && standardStatus[code] != "" && string(reason) == http.StatusText(code) {
		return standardStatus[code]
	}
	return strconv.Itoa(code) + " " + string(reason)
}

// standardStatus holds the status lines with their standard reasons.
var standardStatus = func() (s [600]string) {
	for code := range s {
		if text := http.StatusText(code); text != "" {
			s[code] = strconv.Itoa(code) + " " + text
		}
	}
	return s
}()

// declaredTrailer is the trailer a chunked response announces in its
// Trailer field, with the values to come.
func declaredTrailer(hdr http.Header) http.Header {
	names := hdr["Trailer"]
	if len(names) == 0 {
		return nil
	}
	t := make(http.Header)
	for _, v := range names {
		for v != "" {
			var name string
			name, v = cutToken(v)
			if name != "" {
				t[textproto.CanonicalMIMEHeaderKey(name)] = nil
			}
		}
	}
	return t
}

func cutToken(v string) (string, string) {
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			return textproto.TrimString(v[:i]), v[i+1:]
		}
	}
	return textproto.TrimString(v), ""
}

// copyTrailer fills the response's trailer with the fields that ended the
// body, before the connection, and the views into its buffer, go to
// another request. Trailers nobody declared are kept too, as net/http does.
func copyTrailer(resp *http.Response, fields []h1.Field) {
	if len(fields) == 0 {
		return
	}
	if resp.Trailer == nil {
		resp.Trailer = make(http.Header, len(fields))
	}
	t := resp.Trailer
	for _, f := range fields {
		name := canonicalName(f.Name)
		t[name] = append(t[name], string(f.Value))
	}
}
