package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

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
	// order is how header's fields are written (see OrderFields); nil:
	// in the map's order, each checked.
	order *h1.FieldOrder
	// reqOrder is the request header's, as it was parsed; kept by reset.
	reqOrder h1.FieldOrder

	wroteHeader bool        // WriteHeader called with a final status
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
	*w = response{c: c, req: req, header: header, pending: pending, length: -1, closeAfter: c.head.Close, reqOrder: w.reqOrder}
	w.headSent.Store(false)
	w.cw.Reset(c.bw)
}

// release drops what the response holds between requests; the next
// reset allocates afresh what it needs.
func (w *response) release() {
	w.header, w.pending, w.req = nil, nil, nil
	w.order, w.reqOrder = nil, h1.FieldOrder{} // its arrays are c.vals
}

func (w *response) Header() http.Header { return w.header }

// SwapHeader makes h the response's header and hands back the map it
// had, for a handler that built the header in a map of its own (the
// proxy, from the upstream's response) to give it over instead of
// copying it field by field. Each side keeps one map: the caller owns
// the map returned, whose content is stale (it is for the caller to
// empty), and no longer h, which the response empties for its
// connection's next request. Fields set before that h lacks are moved
// into h, as copying h over them would have kept them. Once the status
// is written the header is no longer the handler's to swap: ok is false.
func (w *response) SwapHeader(h http.Header) (old http.Header, ok bool) {
	if w.wroteHeader || w.c.hijacked || h == nil || sameMap(h, w.header) {
		return nil, false
	}
	old, w.header = w.header, h
	if len(old) > 0 { // mostly empty: ranging over it would still cost
		for k, vv := range old {
			if _, set := h[k]; !set {
				h[k] = vv
			}
		}
	}
	return old, true
}

// RequestFieldOrder is the order of the current request's fields as
// received, and the bytes of its head (see h1.FieldOrder), for a handler
// that forwards them: valid until the handler returns.
func (w *response) RequestFieldOrder() *h1.FieldOrder { return &w.reqOrder }

// OrderFields has the header written in o's order, for a handler that
// built the header it gave with SwapHeader from a parsed head (the
// proxy, from the upstream's response). o must keep the promises of
// h1.FieldOrder until the head is written.
func (w *response) OrderFields(o *h1.FieldOrder) {
	if !w.wroteHeader {
		w.order = o
	}
}

// sameMap reports whether a and b are one map. A map value is a pointer
// to the map (reflect.Value.UnsafePointer says as much, slower).
func sameMap(a, b http.Header) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

// ConnLocal is a slot for what a handler keeps with the connection from
// one request to the next (the proxy's per-request state, reused so that
// a request allocates nothing). Requests on a connection are served one
// at a time, each once its predecessor's response is written, so what
// the slot holds is the current request's alone. The server empties it
// when the connection gives back its buffers or ends, calling the
// value's Release method, if it has one; never while a request is served.
func (w *response) ConnLocal() *any { return &w.c.local }

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
	// The key is canonical already: indexing spares Header.Get's
	// canonicalizing it per response.
	if cl := firstValue(w.header["Content-Length"]); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			w.header.Del("Content-Length") // as net/http: an invalid length is not sent
		}
	}
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
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
	writeFields(bw, w.header, nil, false, false)
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
	seen := writeFields(bw, h, w.order, true, !upgrade)
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

// writeFields writes the header fields in o's order, leaving out
// trailers announced with http.TrailerPrefix, fields that could split
// the message (those that o does not vouch for are checked), the
// Transfer-Encoding if skipTE (the framing is the server's to choose) and
// Connection if skipConnection (writeConnection says what happens).
func writeFields(bw *bufio.Writer, h http.Header, o *h1.FieldOrder, skipTE, skipConnection bool) (seen fieldsSeen) {
	if o == nil {
		for name, values := range h {
			seen.writeField(bw, nil, -1, name, values, skipTE, skipConnection)
		}
		return seen
	}
	var f h1.Fields
	f.Reset(o, h)
	for {
		i, name, values, ok := f.Next()
		if !ok {
			return seen
		}
		seen.writeField(bw, o, i, name, values, skipTE, skipConnection)
	}
}

// writeField writes one field for writeFields, noting what it sees. at
// is the field's place in o, -1 if none.
func (seen *fieldsSeen) writeField(bw *bufio.Writer, o *h1.FieldOrder, at int, name string, values []string, skipTE, skipConnection bool) {
	switch name {
	case "Date":
		seen.date = true
	case "Trailer":
		seen.trailers = seen.trailers || len(values) > 0
	case "Transfer-Encoding":
		seen.transferEncoding = true
		if skipTE {
			return
		}
	case "Connection":
		seen.connection, seen.close = true, hasToken(values, "close")
		if skipConnection {
			return
		}
	}
	if at < 0 && (strings.HasPrefix(name, http.TrailerPrefix) || !h1.ValidFieldName(name)) {
		return // o's keys are tokens, without the prefix's colon
	}
	for _, v := range values {
		if o.Trusted(v) || h1.ValidFieldValue(v) {
			h1.WriteCheckedField(bw, name, v)
		}
	}
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
