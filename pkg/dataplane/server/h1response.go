package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// bufferBeforeHead is how much body a response holds back before sending
// its head, so that a small response whose handler set no length gets a
// Content-Length instead of chunks (as net/http).
const bufferBeforeHead = 2 << 10

// response is the http.ResponseWriter of an HTTP/1 request, reused by its
// connection. It frames the body by Content-Length when the handler gave
// one or the handler finished within bufferBeforeHead, else chunked (or
// by closing the connection for an HTTP/1.0 client).
type response struct {
	c       *h1conn
	req     *http.Request
	header  http.Header
	status  int
	written int64 // body bytes accepted
	length  int64 // declared Content-Length, -1 if none
	pending []byte
	cw      h1.ChunkedWriter
	// fields are written before header's, in order (see SetFields).
	fields []h1.HeadField

	wroteHeader bool        // WriteHeader called with a final status
	dropLength  bool        // fields has an invalid Content-Length: it is not sent
	headSent    atomic.Bool // the head is in the writer: no 100 Continue any more
	noBody      bool        // HEAD, 204, 304
	chunked     bool
	closeAfter  bool
	handlerDone bool
}

var (
	_ http.Flusher  = (*response)(nil)
	_ http.Hijacker = (*response)(nil)
)

func (w *response) reset(c *h1conn, req *http.Request) {
	pending := w.pending[:0]
	header := w.header
	if header == nil {
		header = make(http.Header)
	}
	clear(header)
	*w = response{c: c, req: req, header: header, pending: pending, length: -1, closeAfter: c.store.head.Close}
	w.headSent.Store(false)
	w.cw.Reset(c.bw)
}

// release drops what the response holds between requests; the next
// reset allocates afresh what it needs.
func (w *response) release() {
	w.header, w.pending, w.req = nil, nil, nil
	w.fields = nil
}

func (w *response) Header() http.Header { return w.header }

// RequestFields is the current request's fields but Host, in the order
// they came, named as they came, each checked by the parser: for a
// handler that forwards them (the proxy) without going through the
// header map. The list and its strings are valid until the handler
// returns; the handler must not change the list.
func (w *response) RequestFields() []h1.HeadField {
	if st := w.c.store; st != nil { // nil once the connection is idle or ended
		return st.reqFields
	}
	return nil
}

// SetFields has fields written first, in their order and as spelled,
// then the header map's (a handler's own fields, mostly none), for a
// handler that has a response's fields as a list (the proxy, from the
// upstream's head): no map in between. Fields not Checked are checked.
// The list must stay as it is until the head is written, at the latest
// when the handler returns. Once the status is written it is too late:
// ok is false.
func (w *response) SetFields(fields []h1.HeadField) (ok bool) {
	if w.wroteHeader || w.c.hijacked {
		return false
	}
	w.fields = fields
	return true
}

// ConnLocal is a slot for what a handler keeps with the connection from
// one request to the next (the proxy's per-request state, reused so that
// a request allocates nothing). Requests on a connection are served one
// at a time, each once its predecessor's response is written, so what
// the slot holds is the current request's alone. The server empties it
// when the connection gives back its buffers or ends, calling the
// value's Release method, if it has one; never while a request is served.
func (w *response) ConnLocal() *any { return &w.c.local }

// RemoteAddrPort is the client's address, which RemoteAddr has as a
// string unless the handler said it reads none (see RemoteAddrReader):
// with the PROXY protocol, the header's. It is the zero AddrPort when
// the connection has no TCP address.
func (w *response) RemoteAddrPort() netip.AddrPort { return addrPortOf(w.c.conn.RemoteAddr()) }

func releaseLocal(local *any) {
	if r, ok := (*local).(interface{ Release() }); ok {
		r.Release()
	}
	*local = nil
}

func (w *response) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	w.learnLength()
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
}

// learnLength takes the length the handler declared. The map's key is
// canonical already: indexing spares Header.Get's canonicalizing it.
func (w *response) learnLength() {
	cl, inFields := lengthField(w.fields)
	if !inFields {
		cl = firstValue(w.header["Content-Length"])
	}
	if cl == "" {
		return
	}
	if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
		w.length = n
		return
	}
	// As net/http: an invalid length is not sent.
	if inFields {
		w.dropLength = true
	} else {
		w.header.Del("Content-Length")
	}
}

// lengthField is the first Content-Length value of fields, if any.
func lengthField(fields []h1.HeadField) (string, bool) {
	for i := range fields {
		if f := &fields[i]; h1.NameIs(f.Name, "content-length") {
			return f.Value, true
		}
	}
	return "", false
}

// writeInformational sends a 1xx (103 Early Hints and the like) with the
// header as it stands, at once.
func (w *response) writeInformational(code int) {
	if w.headSent.Load() {
		return
	}
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	bw := w.c.bw
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.WriteString(statusLine(code))
	writeFields(bw, w.header, false, false)
	_, _ = bw.WriteString("\r\n")
	_ = bw.Flush()
}

func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.headSent.Load() && w.length < 0 && len(w.pending)+len(p) <= bufferBeforeHead {
		w.pending = append(w.pending, p...)
		return len(p), nil
	}
	if err := w.sendHead(); err != nil {
		return 0, err
	}
	return w.writeBody(p)
}

func (w *response) writeBody(p []byte) (int, error) {
	if w.chunked {
		return w.cw.Write(p)
	}
	return w.c.bw.Write(p)
}

// sendHead writes the head and what the body held back, once.
func (w *response) sendHead() error {
	if w.headSent.Load() {
		return nil
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.c.wmu.Lock()
	w.writeHead()
	w.headSent.Store(true)
	w.c.wmu.Unlock()
	if len(w.pending) > 0 {
		p := w.pending
		w.pending = w.pending[:0]
		if _, err := w.writeBody(p); err != nil {
			return err
		}
	}
	return nil
}

// frame decides how the body is delimited and whether the connection
// stays open, from what the pass writing the fields saw; once the
// handler is done the whole body is known. It reports whether it set
// the length.
func (w *response) frame(seen fieldsSeen) (setLength bool) {
	if seen.close || w.c.srv.draining.Load() {
		w.closeAfter = true
	}
	if w.handlerDone && w.c.reqBody != nil && !w.c.reqBody.drainBuffered() {
		// The handler left body bytes unread that have not arrived:
		// waiting for them would hold the answer back.
		w.closeAfter = true
	}
	switch {
	case w.noBody || w.length >= 0:
	case w.handlerDone && !seen.trailers:
		w.length = int64(len(w.pending))
		return true
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	return false
}

// writeHead writes the status line, the fields, then the framing: the
// framing fields of the header are the server's to choose, so they are
// left out as the fields are written (Connection but for a 101), and the
// header is left showing what was sent.
func (w *response) writeHead() {
	bw := w.c.bw
	h := w.header
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.WriteString(statusLine(w.status))
	upgrade := w.status == http.StatusSwitchingProtocols
	seen := writeFieldList(bw, w.fields, w.dropLength, !upgrade)
	if len(h) > 0 { // a handler that gave its fields as a list mostly has none here: an empty map's range still costs
		seen.add(writeFields(bw, h, true, !upgrade))
	}
	if w.frame(seen) {
		cl := strconv.Itoa(len(w.pending))
		h["Content-Length"] = []string{cl}
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.WriteString(cl)
		_, _ = bw.WriteString("\r\n")
	}
	if !seen.date {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.Write(httpDate())
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	w.writeConnection(bw)
	_, _ = bw.WriteString("\r\n")
	if seen.transferEncoding {
		delete(h, "Transfer-Encoding")
	}
	if seen.connection && !upgrade {
		delete(h, "Connection") // writeConnection said what happens
	}
}

// writeConnection says whether the connection stays open, where the
// default would not tell the client.
func (w *response) writeConnection(bw *bufio.Writer) {
	switch {
	case w.status == http.StatusSwitchingProtocols:
	case w.closeAfter:
		_, _ = bw.WriteString("Connection: close\r\n")
	case !w.closeAfter && !w.req.ProtoAtLeast(1, 1):
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
}

// fieldsSeen is what writeFields saw of the fields that frame the
// response, on the way rather than by looking each up (a hash each).
type fieldsSeen struct {
	date             bool // a Date key, even with no value, which net/http reads as "send no Date"
	close            bool // Connection: close
	trailers         bool // a Trailer field with a value
	connection       bool // a Connection key
	transferEncoding bool // a Transfer-Encoding key
}

// add notes what other fields saw too.
func (seen *fieldsSeen) add(o fieldsSeen) {
	seen.date = seen.date || o.date
	seen.close = seen.close || o.close
	seen.trailers = seen.trailers || o.trailers
	seen.connection = seen.connection || o.connection
	seen.transferEncoding = seen.transferEncoding || o.transferEncoding
}

// writeFields writes the header map's fields, leaving out trailers
// announced with http.TrailerPrefix, fields that could split the
// message, the Transfer-Encoding if skipTE (the framing is the server's
// to choose) and Connection if skipConnection (writeConnection says what
// happens).
func writeFields(bw *bufio.Writer, h http.Header, skipTE, skipConnection bool) (seen fieldsSeen) {
	for name, values := range h {
		if !seen.note(name, values, skipTE, skipConnection) || strings.HasPrefix(name, http.TrailerPrefix) || !h1.ValidFieldName(name) {
			continue
		}
		for _, v := range values {
			if h1.ValidFieldValue(v) {
				h1.WriteCheckedField(bw, name, v)
			}
		}
	}
	return seen
}

// note notes a field of the map: it reports whether to write it.
func (seen *fieldsSeen) note(name string, values []string, skipTE, skipConnection bool) bool {
	switch name {
	case "Date":
		seen.date = true
	case "Trailer":
		seen.trailers = seen.trailers || len(values) > 0
	case "Transfer-Encoding":
		seen.transferEncoding = true
		return !skipTE
	case "Connection":
		seen.connection, seen.close = true, hasToken(values, "close")
		return !skipConnection
	}
	return true
}

// writeFieldList writes fields (see SetFields) as writeFields writes a
// map's, and never their Transfer-Encoding, nor an invalid
// Content-Length when dropLength. Names are compared in any case, as
// they come.
func writeFieldList(bw *bufio.Writer, fields []h1.HeadField, dropLength, skipConnection bool) (seen fieldsSeen) {
	for i := range fields {
		f := &fields[i]
		if !seen.noteListed(f, dropLength, skipConnection) {
			continue
		}
		if f.Checked {
			h1.WriteCheckedField(bw, f.Name, f.Value)
		} else {
			h1.WriteField(bw, f.Name, f.Value)
		}
	}
	return seen
}

// noteListed notes a field of a list: it reports whether to write it.
// Only the framing names' lengths are compared in any case.
func (seen *fieldsSeen) noteListed(f *h1.HeadField, dropLength, skipConnection bool) bool {
	switch len(f.Name) {
	case len("Date"):
		seen.date = seen.date || h1.NameIs(f.Name, "date")
	case len("Trailer"):
		seen.trailers = seen.trailers || h1.NameIs(f.Name, "trailer")
	case len("Transfer-Encoding"):
		if h1.NameIs(f.Name, "transfer-encoding") {
			seen.transferEncoding = true
			return false
		}
	case len("Connection"):
		if h1.NameIs(f.Name, "connection") {
			seen.connection = true
			seen.close = seen.close || hasToken([]string{f.Value}, "close")
			return !skipConnection
		}
	case len("Content-Length"):
		return !dropLength || !h1.NameIs(f.Name, "content-length")
	}
	return true
}

// finish completes the response once the handler has returned.
func (w *response) finish() error {
	w.handlerDone = true
	if err := w.sendHead(); err != nil {
		return err
	}
	if w.chunked {
		return w.cw.Close(w.trailer())
	}
	if w.length >= 0 && w.written < w.length && !w.noBody {
		w.closeAfter = true // the client waits for bytes that will never come
	}
	return nil
}

// trailer gathers the trailer fields: those the Trailer field announced
// and those set with http.TrailerPrefix.
func (w *response) trailer() http.Header {
	var out http.Header
	for _, names := range w.header["Trailer"] {
		for name := range strings.SplitSeq(names, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if vv := w.header[name]; len(vv) > 0 {
				out = addTrailer(out, name, vv)
			}
		}
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			out = addTrailer(out, name, vv)
		}
	}
	return out
}

func addTrailer(h http.Header, name string, vv []string) http.Header {
	if h == nil {
		h = make(http.Header)
	}
	h[name] = vv
	return h
}

// Flush sends the head and what the body holds so far.
func (w *response) Flush() { _ = w.FlushError() }

func (w *response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if err := w.sendHead(); err != nil {
		return err
	}
	return w.c.bw.Flush()
}

// Hijack hands the connection over, with what its buffers hold, to a
// handler switching protocols; the response must not have begun.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.headSent.Load() {
		return nil, nil, errors.New("server: hijack after the response began")
	}
	if w.c.reqBody != nil {
		w.c.reqBody.abandon()
	}
	w.c.hijacked = true
	w.c.busy.Store(0) // a tunnel's half-close is no client gone (checkGone)
	w.c.state.Store(connActive)
	w.c.graceBy.Store(0)
	_ = w.c.conn.SetDeadline(time.Time{})
	return w.c.conn, bufio.NewReadWriter(w.c.br, w.c.bw), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.graceBy.Store(0)
	return w.c.conn.SetReadDeadline(t)
}
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.conn.SetWriteDeadline(t) }

// EnableFullDuplex: the body can be read while the response is written.
func (w *response) EnableFullDuplex() error { return nil }

// sendContinue tells a client waiting on "Expect: 100-continue" to send
// its body, unless the response has begun (the body is then not wanted).
func (w *response) sendContinue() {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	if w.headSent.Load() {
		return
	}
	_, _ = w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = w.c.bw.Flush()
}

// hasToken reports whether the comma-separated values list token, in any case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for opt := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(opt), token) {
				return true
			}
		}
	}
	return false
}

// firstValue is what Header.Get returns for a field's values.
func firstValue(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}
