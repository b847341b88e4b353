package server

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/internal/monoclock"
	"golang.org/x/sys/unix"
)

var chunkedEncoding = []string{"chunked"}

// newRequest fills the connection's *http.Request from the parsed head.
// Every string of the head is cut from one copy of it.
func (c *h1conn) newRequest() (*http.Request, error) {
	st := c.store
	h := &st.head
	hdr := c.headerMap()
	r := c.req
	*r = st.pristine
	r.Header = hdr // nil even when the store lent this connection a map
	raw := headString(h, &st.strs)
	r.Method = methodString(raw[:len(h.Method)])
	r.RequestURI = raw[len(h.Method) : len(h.Method)+len(h.Target)]
	u, err := c.parseTarget(r.Method, r.RequestURI)
	if err != nil {
		return nil, &h1.Error{Status: http.StatusBadRequest, Reason: "malformed request target"}
	}
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if h.Minor == 0 {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	var host string
	st.vals, st.reqFields, host = fillHeader(hdr, h, raw, len(h.Method)+len(h.Target), st.vals, st.reqFields[:0])
	r.Host = u.Host
	if r.Host == "" {
		r.Host = host // a view of the head's string; "" without Host
	}
	r.Close = h.Close
	c.setBody(r)
	return r, nil
}

// HeaderMapReader is a Handler that says whether it reads
// http.Request.Header; the server asks once per listener. One that
// answers false (Baton's proxy running phases that read none) gets its
// HTTP/1 requests with a nil Header: it reads the fields from the list
// its ResponseWriter tells (RequestFields), and the server spares
// itself the map (about a fifth of a small request's cost). Nil rather
// than an empty map: reading a nil map finds nothing, as an empty one
// does, but a write panics where it would silently vanish, so a handler
// that wrongly answered false is caught at its first write rather than
// serving requests as if the client sent no fields. A Handler that does
// not implement it gets the map, as does every HTTP/2 request (x/net
// makes it).
type HeaderMapReader interface {
	ReadsRequestHeader() bool
}

// readsHeaderMap reports whether h reads http.Request.Header: true
// unless it says otherwise.
func readsHeaderMap(h http.Handler) bool {
	r, ok := h.(HeaderMapReader)
	return !ok || r.ReadsRequestHeader()
}

// RemoteAddrReader is a Handler that says whether it reads
// http.Request.RemoteAddr; the server asks once per listener. One that
// answers false (Baton's proxy, when its phases read none) gets its
// HTTP/1 requests with RemoteAddr empty, and the client's address from
// its ResponseWriter's RemoteAddrPort instead: formatting the address
// for each connection, for the proxy to parse it back, cost about 3% of
// a connection that makes one request. A Handler that does not
// implement it gets RemoteAddr, as does every HTTP/2 request (x/net
// sets it).
type RemoteAddrReader interface {
	ReadsRemoteAddr() bool
}

// readsRemoteAddr reports whether h reads http.Request.RemoteAddr: true
// unless it says otherwise.
func readsRemoteAddr(h http.Handler) bool {
	r, ok := h.(RemoteAddrReader)
	return !ok || r.ReadsRemoteAddr()
}

// headerMap is the connection's header map, emptied, for the request's
// fields; nil when the listener's handler reads none (see
// HeaderMapReader): the request's Header is nil then, and its fields are
// in the list alone.
func (c *h1conn) headerMap() http.Header {
	if c.b.noHeaderMap {
		return nil
	}
	hdr := c.store.pristine.Header
	if hdr == nil {
		hdr = make(http.Header, len(c.store.head.Fields))
		c.store.pristine.Header = hdr
	}
	clear(hdr)
	return hdr
}

// headString is the head's strings, in one piece cut from the
// connection's chunk: method, target, then each field's name and value.
// Bytes of a chunk are written once and never again once they are a
// string, so the strings may outlive the request (a pool key, a mirror's
// copy) while the next heads take the rest of the chunk: a connection
// allocates once every few dozen small heads, not once per request.
func headString(h *h1.Head, chunk *[]byte) string {
	n := len(h.Method) + len(h.Target)
	for _, f := range h.Fields {
		n += len(f.Name) + len(f.Value)
	}
	if n == 0 {
		return ""
	}
	b := *chunk
	if cap(b)-len(b) < n {
		size := headChunkSize
		if cap(b) == 0 {
			size = firstHeadChunkSize // many connections make one request only
		}
		b = make([]byte, 0, max(n, size))
	}
	start := len(b)
	b = append(append(b, h.Method...), h.Target...)
	for _, f := range h.Fields {
		b = append(append(b, f.Name...), f.Value...)
	}
	*chunk = b
	return unsafe.String(&b[start], n)
}

// headChunkSize is what a connection takes at a time for its heads'
// strings: about 50 of wrk's, 5 of a browser's. Its first chunk is
// smaller: a connection that makes one request would leave most of 4 KiB
// to the collector.
const headChunkSize, firstHeadChunkSize = 4 << 10, 1 << 10

// fillHeader adds the fields, cut from raw, to hdr; values share one
// backing array, each capped so that an append copies. The array is the
// connection's, like hdr and the request itself: it is returned for the
// next request. Host is returned rather than added: it is r.Host, never
// in r.Header (as net/http), and adding it to delete it cost two hashes.
// The fields but Host also go to list, in the order they came and named
// as they came, for a handler that forwards them (see RequestFields).
// The fields begin at raw[at:]. A nil hdr gets nothing: the list is all.
func fillHeader(hdr http.Header, h *h1.Head, raw string, at int, vals []string, list []h1.HeadField) ([]string, []h1.HeadField, string) {
	var host string
	n := len(h.Fields)
	if hdr != nil {
		if cap(vals) < n || cap(vals) > maxPooledFields && n <= maxPooledFields {
			vals = make([]string, n)
		}
		vals = vals[:n]
		clear(vals)
	}
	if cap(list) < n || cap(list) > maxPooledFields && n <= maxPooledFields {
		list = make([]h1.HeadField, 0, n)
	}
	raw = raw[at:]
	for i := range h.Fields {
		f := &h.Fields[i] // not a copy of its six words
		name := raw[:len(f.Name)]
		value := raw[len(f.Name) : len(f.Name)+len(f.Value)]
		raw = raw[len(f.Name)+len(f.Value):]
		if len(name) == 4 && (name == "Host" || strings.EqualFold(name, "host")) {
			host = value // the parser lets one Host through, no more
			continue
		}
		list = append(list, h1.HeadField{Name: name, Value: value, Checked: true})
		if hdr == nil {
			continue
		}
		key := canonicalKey(name)
		if key == "Transfer-Encoding" {
			continue // in r.TransferEncoding, as net/http
		}
		vals[i] = value
		vv := vals[i : i+1 : i+1]
		known := len(hdr)
		hdr[key] = vv
		if len(hdr) > known {
			continue
		}
		// A repeated name: the map's values were just replaced, which a
		// lookup before each field (a hash) would have spared, at the
		// cost of one for every field rather than for repeats alone.
		hdr[key] = valuesOf(h.Fields[:i+1], vals, f.Name)
	}
	return vals, list, host
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey(name) for a token,
// which most clients send canonical already: telling so a word at a time
// (h1.IsCanonicalName) costs a fraction of textproto's checks.
func canonicalKey(name string) string {
	if h1.IsCanonicalName(name) {
		return name
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// valuesOf gathers the values of the fields named name (in any case: a
// key is canonical, and the parser lets only tokens through), in order.
func valuesOf(fields []h1.Field, vals []string, name []byte) []string {
	var out []string
	for j, f := range fields {
		if len(f.Name) == len(name) && bytes.EqualFold(f.Name, name) {
			out = append(out, vals[j])
		}
	}
	return out
}

// maxPooledFields bounds the value array a connection keeps between
// requests: one huge head does not pin its size.
const maxPooledFields = 64

// methodString spares the common methods their own string.
func methodString(m string) string {
	switch m {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	}
	return m
}

// parseTarget reads the request target as net/http does, into the
// connection's URL when the target is a plain origin-form path.
func (c *h1conn) parseTarget(method, target string) (*url.URL, error) {
	if path, query, ok := plainTarget(target); ok {
		c.url = url.URL{Path: path, RawQuery: query, ForceQuery: query == "" && len(path) < len(target)}
		return &c.url, nil
	}
	return parseTarget(method, target)
}

// plainTarget splits an origin-form target whose path has nothing to
// unescape or escape ("/a/b?q"), for which url.ParseRequestURI would give
// the same Path and RawQuery. Anything else goes to url.ParseRequestURI.
func plainTarget(target string) (path, query string, ok bool) {
	if target == "" || target[0] != '/' {
		return "", "", false
	}
	path, query, _ = strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if !plainPathByte[path[i]] {
			return "", "", false
		}
	}
	for i := 0; i < len(query); i++ {
		if query[i] <= ' ' || query[i] == 0x7f {
			return "", "", false // url.Parse refuses control bytes
		}
	}
	return path, query, true
}

// plainPathByte: the bytes url.URL keeps as they are in a path, without
// setting RawPath: unreserved ones and the sub-delimiters it does not escape.
var plainPathByte = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/$&+,:;=@" {
		t[c] = true
	}
	return t
}()

// parseTarget reads the request target as net/http does: an authority
// alone is a CONNECT target.
func parseTarget(method, target string) (*url.URL, error) {
	if method == http.MethodConnect && target != "" && target[0] != '/' {
		u, err := url.ParseRequestURI("http://" + target)
		if err == nil {
			u.Scheme = ""
		}
		return u, err
	}
	return url.ParseRequestURI(target)
}

// setBody gives r its body: http.NoBody, or the connection's body reader
// behind a requestBody of its own.
func (c *h1conn) setBody(r *http.Request) {
	h := &c.store.head
	c.store.body.Reset(c.br, h, c.srv.opts.MaxHeaderBytes)
	switch h.Framing {
	case h1.Length:
		r.ContentLength = h.ContentLength
	case h1.Chunked:
		r.ContentLength, r.TransferEncoding = -1, chunkedEncoding
		r.Trailer = declaredTrailer(c.store.reqFields)
	default:
		r.Body = http.NoBody
		if h.ContentLength == 0 {
			r.ContentLength = 0
		}
		c.reqBody = nil
		return
	}
	// An HTTP/1.0 client knows no 1xx: it sends its body regardless.
	c.reqBody = &requestBody{c: c, req: r, expect: h.Expect100 && h.Minor == 1}
	r.Body = c.reqBody
}

// declaredTrailer is the fields the Trailer fields of a request announce
// (nil without a Trailer field), from its list: the header map may not
// be made.
func declaredTrailer(fields []h1.HeadField) http.Header {
	var t http.Header
	for _, f := range fields {
		if !h1.SameName(f.Name, "Trailer") {
			continue
		}
		if t == nil {
			t = make(http.Header)
		}
		for _, name := range splitTokens(f.Value) {
			t[textproto.CanonicalMIMEHeaderKey(name)] = nil
		}
	}
	return t
}

// requestBody is a request's body. It is the handler's until the
// handler returns; reads after that (by a goroutine the handler left
// behind) fail instead of reading the next request.
type requestBody struct {
	mu     sync.Mutex
	c      *h1conn
	req    *http.Request
	expect bool // 100 Continue is still to be sent
	closed bool // the handler closed it or returned
	eof    bool
	failed bool // the framing was refused or the client left mid-body
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.eof:
		return 0, io.EOF
	}
	if b.expect {
		b.expect = false
		b.c.w.sendContinue()
	}
	n, err := b.c.store.body.Read(p)
	switch {
	case err == io.EOF:
		b.eof = true
		b.fillTrailer()
		b.c.busy.Store(busyUnseen)
	case err != nil:
		b.failed = true
	}
	return n, err
}

func (b *requestBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// Buffered reports whether the rest of the body is in the connection's
// buffer, so that reading it to its end cannot wait for the client: a
// proxy may then send it with the request's head in one write, where a
// body still coming must stream. A chunked body, or one the client sends
// only after 100 Continue, says no. It is safe for concurrent use.
func (b *requestBody) Buffered() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed || b.failed || b.expect:
		return false
	case b.eof:
		return true
	}
	return b.c.store.body.Buffered()
}

// fillTrailer sets the trailer fields that came after the last chunk.
func (b *requestBody) fillTrailer() {
	fields := b.c.store.body.Trailer()
	if len(fields) == 0 {
		return
	}
	if b.req.Trailer == nil {
		b.req.Trailer = make(http.Header)
	}
	for _, f := range fields {
		key := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		b.req.Trailer[key] = append(b.req.Trailer[key], string(f.Value))
	}
}

// finish ends the body once the handler returned and the response is
// sent, and reports whether the connection can read the next request:
// what the handler left unread is read and dropped, up to maxDrainBytes
// and within lingerTimeout, unless the client was never told to send it
// (Expect: 100-continue) or the connection closes anyway (drain false).
func (b *requestBody) finish(drain bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	switch {
	case b.failed:
		return false
	case b.eof:
		return true
	case b.expect || !drain:
		return false
	case b.c.store.body.Done():
		// A handler that read exactly the declared length saw no EOF:
		// nothing is left, and CopyN would allocate to find that out.
		b.eof = true
		return true
	}
	b.c.setReadDeadline(time.Now().Add(lingerTimeout))
	defer b.c.setReadDeadline(time.Time{})
	n, err := io.CopyN(io.Discard, &b.c.store.body, maxDrainBytes)
	b.eof = err == io.EOF && n < maxDrainBytes
	return b.eof
}

// drainBuffered reads and drops what of the body is already buffered, and
// reports whether that was all of it: a response sent after the handler
// returned can then say whether the connection stays open.
func (b *requestBody) drainBuffered() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var scratch [512]byte
	for !b.eof && !b.failed && !b.expect {
		if b.c.store.body.Done() {
			b.eof = true
			break
		}
		if b.c.br.Buffered() == 0 {
			break
		}
		_, err := b.c.store.body.Read(scratch[:min(len(scratch), b.c.br.Buffered())])
		b.eof = err == io.EOF
		b.failed = err != nil && !b.eof
	}
	return b.eof
}

// abandon hands what is left of the body to a hijacker, which reads it
// from the buffered reader itself.
func (b *requestBody) abandon() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// rawConnOf is the socket under conn's layers (TLS, PROXY protocol,
// counting), nil if it has none.
func rawConnOf(conn net.Conn) syscall.RawConn {
	for {
		switch c := conn.(type) {
		case syscall.Conn:
			rc, err := c.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		case interface{ Unwrap() net.Conn }:
			conn = c.Unwrap()
		default:
			return nil
		}
	}
}

// checkGone cancels the connection's context, and so the request under
// way, when its client has gone: net/http found out with a read in the
// background; here one goroutine per Server polls the sockets whose
// handler has run for a while with the whole request body read. A client
// that only shut down its sending side counts as gone, as with net/http.
func (c *h1conn) checkGone(now int64) {
	c.expireFirstGrace(now)
	since := c.busy.Load()
	if since == busyUnseen {
		c.busy.CompareAndSwap(busyUnseen, now) // see busyUnseen
		return
	}
	if since == 0 || now-since < int64(goneCheckInterval) || c.rawConn() == nil {
		return
	}
	if c.peerGone() {
		c.cancel()
	}
}

// busyUnseen is h1conn.busy for a handler checkGone has not seen yet: the
// first check stamps it, rather than the handler with a clock read per
// request (issue 14). The stamp comes after the start, by less than a
// tick (goneCheckInterval): a handler is polled up to a tick later than
// with its start stamped, never sooner.
const busyUnseen int64 = -1

// peerGone polls the socket without waiting. In cleartext, bytes waiting
// before the hang-up are a pipelined request, so only a hang-up with
// nothing before it counts; over TLS the close_notify alert comes first,
// so a hang-up is enough.
func (c *h1conn) peerGone() bool {
	gone := false
	_ = c.raw.Control(func(fd uintptr) {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		if n, err := unix.Poll(fds[:], 0); err != nil || n != 1 {
			return
		}
		switch ev := fds[0].Revents; {
		case ev&(unix.POLLHUP|unix.POLLERR) != 0:
			gone = true
		case ev&unix.POLLRDHUP != 0:
			gone = c.isTLS || nothingBuffered(int(fd))
		}
	})
	return gone
}

// nothingBuffered reports whether a read of fd would return end of file.
func nothingBuffered(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n == 0
}

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// prefaceFollows reports whether the connection begins with the HTTP/2
// preface (h2c with prior knowledge). It waits for more bytes only while
// those received are the preface's beginning.
//
// Reading on, and HTTP/2 after it, is under the first head's deadline:
// awaitFirst left its short grace deadline in force.
func (c *h1conn) prefaceFollows() bool {
	deadline := false
	for n := 1; n <= len(h2Preface); n++ {
		if !deadline && n > c.br.Buffered() {
			c.setReadDeadline(monoclock.At(c.headBy))
			deadline = true
		}
		b, err := c.br.Peek(n)
		if err != nil || b[n-1] != h2Preface[n-1] {
			return false
		}
	}
	if !deadline {
		c.setReadDeadline(monoclock.At(c.headBy))
	}
	return true
}

// serveH2C hands the connection, and the bytes already read, to HTTP/2.
func (c *h1conn) serveH2C() {
	read, _ := c.br.Peek(c.br.Buffered())
	read = bytes.Clone(read) // the store goes back: HTTP/2 has buffers of its own
	c.release()
	c.b.h2.ServeConn(newBatchConn(&bufConn{Conn: c.conn, read: read}), c.b.h2opts(&c.base))
}

// bufConn is a connection whose first bytes were read already.
type bufConn struct {
	net.Conn
	read []byte
}

func (c *bufConn) Read(p []byte) (int, error) {
	if len(c.read) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.read)
	c.read = c.read[n:]
	return n, nil
}

func splitTokens(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
