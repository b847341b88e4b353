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
// works with, its body framed by pc.body, and the fields the phases see
// (pc.last.head). The response's Header is nil: the HTTP/1 client's
// RoundTrip makes it for who needs a map (see h1Client).
func (pc *h1Conn) response(req *http.Request) *http.Response {
	h := &pc.h
	pc.last = responseFor(req)
	r := pc.last
	r.head = Response{StatusCode: h.Status, Header: Header{fields: r.fieldsOf(h.Fields)}}
	resp := &r.resp
	*resp = http.Response{
		StatusCode: h.Status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: h.Minor,
		Close: h.Close, Request: req, Body: http.NoBody,
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
		resp.Trailer = declaredTrailer(&r.head.Header)
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
// storage of its fields. An exchange keeps one for its requests (see
// responseFor); the others are made per response.
type h1Response struct {
	resp http.Response
	body h1Body
	head Response // what the phases see; its fields are views of text
	// fields is the array head.Header's fields are in, unless a phase
	// put a Header of its own in their place: that one is not reused.
	fields []h1.HeadField
	text   []byte   // the fields' names and values, copied out of the connection's buffer
	slots  []string // the values of a copy into a header map (see handOver)
	reused bool     // an exchange's: its storage is written again for its next request
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

// fieldsOf copies the parsed fields, whose views the connection's next
// read overwrites, into the response's storage: one string holds every
// name and value. A reused h1Response reuses its bytes and its list, so
// its fields are valid until the exchange's next request (see Session).
// They were parsed: Checked.
func (r *h1Response) fieldsOf(parsed []h1.Field) []h1.HeadField {
	size := 0
	for i := range parsed {
		size += len(parsed[i].Name) + len(parsed[i].Value)
	}
	text := r.text[:0]
	fields := r.fields[:0]
	if !r.reused || cap(text) < size {
		text = make([]byte, 0, size)
	}
	if !r.reused || cap(fields) < len(parsed) {
		fields = make([]h1.HeadField, 0, len(parsed))
	}
	fields = fields[:len(parsed)]
	// text has room for every byte: its array stays where it is.
	all := unsafe.String(unsafe.SliceData(text[:size]), size) // written below, then again only by the exchange's next response
	for i := range parsed {
		f, hf := &parsed[i], &fields[i]
		at := len(text)
		text = append(text, f.Name...)
		text = append(text, f.Value...)
		hf.Name, hf.Value, hf.Checked = all[at:at+len(f.Name)], all[at+len(f.Name):len(text)], true
	}
	if r.reused {
		r.text, r.fields = text, fields
	}
	return fields
}

// trim drops the storage grown for an unusually large response.
func (r *h1Response) trim() {
	if cap(r.fields) > 4*maxPooledFields || cap(r.slots) > 4*maxPooledFields || cap(r.text) > 16<<10 {
		r.fields, r.text, r.slots = nil, nil, nil
	}
	r.resp, r.body, r.head = http.Response{}, h1Body{}, Response{}
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
// Trailer fields, with the values to come.
func declaredTrailer(hdr *Header) http.Header {
	var t http.Header
	for v := range hdr.Values("Trailer") {
		for v != "" {
			var name string
			name, v = cutToken(v)
			if name == "" {
				continue
			}
			if t == nil {
				t = make(http.Header)
			}
			t[textproto.CanonicalMIMEHeaderKey(name)] = nil
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
