package proxy

import (
	"context"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// Request is the request sent upstream as UpstreamRequestFilter sees it
// (Pingora's upstream_request_filter gets its own RequestHeader too): a
// phase may change the method, the target, Host and the fields. The body,
// its framing and the context are the proxy's.
//
// Over HTTP/1 the Header is the client's fields as received, in order and
// named as received, as nginx forwards them, but for the hop-by-hop ones,
// followed by the forwarding fields (nginx writes its proxy_set_header
// fields before the client's; Baton's stay after them, where they were
// before); the proxy's HTTP/1 client writes that list with no header map
// in between. Its strings are valid until Logging returns
// (see Session); Clone copies what outlives the request.
type Request struct {
	Method string
	// URL's Path, RawPath and RawQuery (Opaque "*" for OPTIONS *) are the
	// target sent; Scheme and Host name the peer and are not sent.
	URL *url.URL
	// Host is sent in the Host field; empty means URL.Host.
	Host   string
	Header Header

	body bool // a body is sent (see HasBody)
}

// HasBody reports whether a body is sent with the request.
func (r *Request) HasBody() bool { return r.body }

// Clone is r as an *http.Request of its own with ctx, its strings copied
// and without a body: what a request that outlives this one (a mirror,
// sent by Session.RoundTrip) is made of.
func (r *Request) Clone(ctx context.Context) *http.Request {
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = strings.Clone(u.Path), strings.Clone(u.RawPath), strings.Clone(u.RawQuery)
	out := &http.Request{
		Method: strings.Clone(r.Method), URL: &u, Host: strings.Clone(r.Host), Header: r.Header.Clone(),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	return out.WithContext(ctx)
}

// toHTTP fills out, the transport's request, with r's head: its fields as
// a header map of their own (their strings shared) when withMap, for the
// transports that take one; nil otherwise, the list being written as is.
func (r *Request) toHTTP(out *http.Request, withMap bool) {
	out.Method, out.URL, out.Host, out.Header = r.Method, r.URL, r.Host, nil
	if withMap {
		out.Header = r.Header.toMap()
	}
}

// requestOf is the head of req, a request made elsewhere (a mirror's):
// its header map's fields, each checked when written.
func requestOf(req *http.Request) *Request {
	return &Request{Method: req.Method, URL: req.URL, Host: req.Host, Header: headerOfMap(req.Header)}
}

// AppendList adds value to the last field named name as a list element,
// ", "-separated as RFC 9110 §5.6.1 writes lists (Via), or adds the field
// when there is none.
func (h *Header) AppendList(name, value string) {
	for i := len(h.fields) - 1; i >= 0; i-- {
		if f := &h.fields[i]; h1.SameName(f.Name, name) {
			*f = h1.HeadField{Name: f.Name, Value: f.Value + ", " + value}
			return
		}
	}
	h.Add(name, value)
}

// addChecked adds a field the proxy knows to be valid.
func (h *Header) addChecked(name, value string) {
	h.fields = append(h.fields, h1.HeadField{Name: name, Value: value, Checked: true})
}

// hasToken reports whether a field named name lists token (ASCII case
// ignored).
func (h *Header) hasToken(name, token string) bool {
	for v := range h.Values(name) {
		if headerHasToken([]string{v}, token) {
			return true
		}
	}
	return false
}

// joined is the values of the fields named name, ", "-separated.
func (h *Header) joined(name string) string {
	var out string
	for v := range h.Values(name) {
		if out != "" {
			out += ", "
		}
		out += v
	}
	return out
}

// toMap is the fields as a header map keyed canonically, strings shared.
func (h *Header) toMap() http.Header {
	m := make(http.Header, len(h.fields))
	for _, f := range h.fields {
		key := textproto.CanonicalMIMEHeaderKey(f.Name)
		m[key] = append(m[key], f.Value)
	}
	return m
}

// upstreamFields fills h with the fields of the request sent upstream:
// the client's as received (HTTP/1) or as its header map has them
// (HTTP/2), but the hop-by-hop ones, those the Connection fields name and
// the forwarding fields a client may not set, then an upgrade offer's
// Connection, then the forwarding fields and the request id. h's list
// is reused: it is emptied first.
func (p *Proxy[C]) upstreamFields(s *Session, scheme Scheme, h *Header) {
	var buf [8]string
	var f forwardable
	in := s.RequestHeader()
	h.fields, f = copyClientFields(h.fields[:0], in.h.fields, !s.origin.trusted, buf[:0])
	if f.te {
		forwardTE(h)
	}
	if f.upgrade || namedIn(f.options, "HTTP2-Settings") {
		forwardUpgrade(h, in, scheme, f.options)
	}
	p.setForwarded(h, s)
	if id := s.generatedID; id != "" {
		if s.idReplaced {
			h.Del(hdrRequestID)
		}
		h.addChecked(hdrRequestID, id)
	}
}

// forwardable is what copying the client's fields found: the options the
// Connection fields list, and whether the fields kept for a second look
// came (Upgrade, Te).
type forwardable struct {
	options []string
	upgrade bool
	te      bool
}

// copyClientFields appends to dst the client's fields that may go
// upstream: all but the hop-by-hop ones, those the Connection fields
// name, and the forwarding fields dropForwarding names (all of them from
// an untrusted peer). Upgrade, Te and HTTP2-Settings are kept for
// forwardUpgrade and forwardTE to decide on. dst may be src[:0]; the
// options are appended to options.
func copyClientFields(dst []h1.HeadField, src []h1.HeadField, all bool, options []string) ([]h1.HeadField, forwardable) {
	f := forwardable{options: options}
	for i := range src {
		x := &src[i]
		if x.Name == "" || nameClass[x.Name[0]] == 0 {
			dst = append(dst, *x) // most names: told apart by their first letter
			continue
		}
		if isHopName(x.Name) {
			switch {
			case h1.NameIs(x.Name, "connection"):
				if !h1.NameIs(x.Value, "keep-alive") { // what most clients send
					f.options = appendOptions(f.options, x.Value)
				}
				continue
			case h1.NameIs(x.Name, "upgrade"):
				f.upgrade = true
			case h1.NameIs(x.Name, "te"):
				f.te = true
			default:
				continue
			}
		} else if dropField(x.Name, all) {
			continue
		}
		dst = append(dst, *x)
	}
	if len(f.options) > 0 {
		dst = deleteOptions(dst, f.options)
	}
	return dst, f
}

// nameClass is 1 for the first letters of the hop-by-hop and forwarding
// names, in either case: other names need no second look.
var nameClass = func() (t [256]uint8) {
	for _, c := range "ckptuxf" {
		t[c], t[c-'a'+'A'] = 1, 1
	}
	return t
}()

// dropField reports whether a client's field named name is not forwarded
// (see dropForwarding); the forwarding fields are told apart by their
// first letter first.
func dropField(name string, all bool) bool {
	if name == "" {
		return false
	}
	switch name[0] | 0x20 {
	case 'x', 'f':
	default:
		return false
	}
	return dropForwarding(name, all)
}

// isForwardingName reports whether name, in any case, is one of
// forwardingHeaders.
func isForwardingName(name string) bool {
	switch len(name) {
	case 9:
		return h1.NameIs(name, "x-real-ip") || h1.NameIs(name, "forwarded")
	case 15:
		return h1.NameIs(name, "x-forwarded-for")
	case 16:
		return h1.NameIs(name, "x-forwarded-host") || h1.NameIs(name, "x-forwarded-port")
	case 17:
		return h1.NameIs(name, "x-forwarded-proto")
	}
	return false
}

// deleteOptions removes the fields options name, but Upgrade, Te and
// HTTP2-Settings, on which forwardUpgrade and forwardTE decide.
func deleteOptions(fields []h1.HeadField, options []string) []h1.HeadField {
	kept := fields[:0]
	for _, x := range fields {
		if namedIn(options, x.Name) && !h1.NameIs(x.Name, "upgrade") && !h1.NameIs(x.Name, "te") && !h1.NameIs(x.Name, "http2-settings") {
			continue
		}
		kept = append(kept, x)
	}
	clear(fields[len(kept):])
	return kept
}

// forwardTE keeps "TE: trailers", the one TE value every hop supports
// (gRPC needs it), and no other.
func forwardTE(h *Header) {
	if h.hasToken("Te", "trailers") {
		h.Set("Te", "trailers")
		return
	}
	h.Del("Te")
}

// forwardUpgrade keeps the Upgrade offer forwardedUpgrade forwards, with
// a Connection of the proxy's that names it, and drops any other; the
// HTTP2-Settings of an h2c offer go with it, else they go when the
// client's Connection named them. in is the client's fields.
func forwardUpgrade(h *Header, in *RequestHeader, scheme Scheme, options []string) {
	upgrade, settings := forwardedUpgrade(in, scheme)
	if !settings && namedIn(options, "HTTP2-Settings") {
		h.Del("Http2-Settings")
	}
	switch {
	case settings:
		h.addChecked("Connection", "Upgrade, HTTP2-Settings")
	case upgrade:
		h.addChecked("Connection", "Upgrade")
	default:
		h.Del("Upgrade")
	}
}

// mapFields appends the fields of a header map (an HTTP/2 request's) to
// dst, each to be checked when written.
func mapFields(dst []h1.HeadField, m http.Header) []h1.HeadField {
	for k, vv := range m {
		for _, v := range vv {
			dst = append(dst, h1.HeadField{Name: k, Value: v})
		}
	}
	return dst
}

// upstreamHead is the head of an attempt's request, emptied: the
// exchange's when it lends its storage (x may be nil), else one of the
// attempt's own, with room for n client fields and the proxy's.
func (x *exchange) upstreamHead(n int) *Request {
	const room = forwardingFields + 8 // the proxy's fields, and a few a phase adds
	if x == nil || !x.lend {
		return &Request{Header: Header{fields: make([]h1.HeadField, 0, n+room)}}
	}
	r := &x.outHead
	fields := r.Header.fields
	if cap(fields) < n+room {
		fields = make([]h1.HeadField, 0, n+room)
	}
	*r = Request{Header: Header{fields: fields[:0]}}
	return r
}

// forwardingFields is how many fields the proxy may add to the client's.
const forwardingFields = 8
