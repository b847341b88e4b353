package proxy

import (
	"iter"
	"net/http"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// RequestHeader is the downstream request's fields as the phases and the
// proxy read them (Session.RequestHeader), read-only: over HTTP/1 it is
// the server's own list, in the order the fields came and named as they
// came (Host is Request.Host, not a field), from which the upstream
// request is copied; over HTTP/2 it is made once per request from
// Request.Header, in no particular order. Its strings are valid until
// Logging returns (see Session); Clone copies them.
//
// It has no setters on purpose: the upstream request is edited in
// UpstreamRequestFilter, on a Request of its own.
type RequestHeader struct {
	h Header
}

// Len is the number of field lines.
func (r *RequestHeader) Len() int { return r.h.Len() }

// Get is the value of the first field named name, "" if there is none.
func (r *RequestHeader) Get(name string) string { return r.h.Get(name) }

// Has reports whether a field is named name.
func (r *RequestHeader) Has(name string) bool { return r.h.Has(name) }

// Values yields the values of the fields named name, in order.
func (r *RequestHeader) Values(name string) iter.Seq[string] { return r.h.Values(name) }

// All yields every field's name and value, in order.
func (r *RequestHeader) All() iter.Seq2[string, string] { return r.h.All() }

// AppendValues appends the values of the fields named name to dst, in
// order, as http.Header's Values has them; with a dst on the caller's
// stack it allocates nothing for a name sent a few times at most.
func (r *RequestHeader) AppendValues(dst []string, name string) []string {
	for i := range r.h.fields {
		if f := &r.h.fields[i]; h1.SameName(f.Name, name) {
			dst = append(dst, f.Value)
		}
	}
	return dst
}

// Clone is the fields as a new http.Header, strings copied.
func (r *RequestHeader) Clone() http.Header { return r.h.Clone() }

// RequestHeader is the downstream request's fields (see RequestHeader):
// what phases read rather than Request.Header, which is nil over HTTP/1
// when the phases say they do not read it (see HeaderMapReader).
func (s *Session) RequestHeader() *RequestHeader {
	if !s.reqHeaderSet {
		// HTTP/2, or a Session made outside ServeHTTP: from the map, in
		// the Session's own storage (never the server's list).
		s.mapView = mapFields(s.mapView[:0], s.Request.Header)
		s.reqHeader, s.reqHeaderSet = RequestHeader{h: Header{fields: s.mapView}}, true
	}
	return &s.reqHeader
}

// requestFielder is the server's HTTP/1 response writer, which tells the
// request's fields as they came (pkg/dataplane/server's RequestFields).
type requestFielder interface{ RequestFields() []h1.HeadField }

// useReceivedFields makes the fields the HTTP/1 server parsed, which w
// tells, the Session's RequestHeader; without them (HTTP/2) it is made
// from the header map when first asked for.
func (s *Session) useReceivedFields(w http.ResponseWriter) {
	if rf, ok := w.(requestFielder); ok {
		s.reqHeader, s.reqHeaderSet = RequestHeader{h: Header{fields: rf.RequestFields()}}, true
	}
}

// HeaderMapReader is implemented by Phases that say whether they read
// Session.Request.Header. Phases that answer false (Baton's router) get
// HTTP/1 requests whose Header is nil: the server makes no map, which
// is about a fifth of what a small request costs it, and they read the
// client's fields from Session.RequestHeader, which every phase may use
// whatever the answer. Phases that do not implement it read the map as
// always. Nil, not an empty map: a phase that wrongly answered false
// panics at its first write to it (a 500, logged with its stack) rather
// than silently seeing no fields. A type that embeds phases which
// answer false, and reads the map in a phase of its own, must answer
// true itself. The proxy asks once, in New.
type HeaderMapReader interface {
	ReadsRequestHeader() bool
}

// ReadsRequestHeader tells the server whether the proxy's phases read
// http.Request.Header (pkg/dataplane/server asks once per listener): the
// proxy itself reads the fields from the server's list.
func (p *Proxy[C]) ReadsRequestHeader() bool { return p.readsHeaderMap }

// phasesReadHeaderMap reports whether phases read Session.Request.Header:
// true unless they say otherwise.
func phasesReadHeaderMap(phases any) bool {
	r, ok := phases.(HeaderMapReader)
	return !ok || r.ReadsRequestHeader()
}

// RemoteAddrReader is implemented by Phases that say whether they read
// Session.Request.RemoteAddr. Phases that answer false (Baton's router)
// get HTTP/1 requests whose RemoteAddr is empty: the server does not
// format the client's address, the proxy takes it from the server as an
// address instead of parsing it back, and every phase finds the client
// in Session.ClientAddr whatever the answer. Phases that do not
// implement it get RemoteAddr as always. The proxy asks once, in New.
type RemoteAddrReader interface {
	ReadsRemoteAddr() bool
}

// ReadsRemoteAddr tells the server whether the proxy's phases read
// http.Request.RemoteAddr (pkg/dataplane/server asks once per listener):
// the proxy itself does with the server's address when it is empty.
func (p *Proxy[C]) ReadsRemoteAddr() bool { return p.readsRemoteAddr }

// phasesReadRemoteAddr reports whether phases read
// Session.Request.RemoteAddr: true unless they say otherwise.
func phasesReadRemoteAddr(phases any) bool {
	r, ok := phases.(RemoteAddrReader)
	return !ok || r.ReadsRemoteAddr()
}

// onlyValue is the value of the one field named name, and how many are
// so named: 0, 1, or 2 for two or more ("" then).
func (r *RequestHeader) onlyValue(name string) (v string, n int) {
	for i := range r.h.fields {
		if f := &r.h.fields[i]; h1.SameName(f.Name, name) {
			if n++; n > 1 {
				return "", n
			}
			v = f.Value
		}
	}
	return v, n
}
