package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/net/http/httpguts"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// appendRequestHead appends req's head to b: request line, Host, the
// header fields but those that frame the message, then the framing this
// client chose (a known length, or chunked).
func appendRequestHead(b []byte, req *http.Request, withBody, chunked bool) ([]byte, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !h1.ValidFieldName(req.Method) || !httpguts.ValidHostHeader(host) {
		return b, errInvalidRequestHead
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = appendTarget(b, req.URL)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	o := orderOf(req)
	valid := true
	if o == nil {
		for name, values := range req.Header {
			if b, valid = appendField(b, nil, -1, name, values); !valid {
				break
			}
		}
	} else {
		var f h1.Fields
		f.Reset(o, req.Header)
		for valid {
			i, name, values, ok := f.Next()
			if !ok {
				break
			}
			b, valid = appendField(b, o, i, name, values)
		}
	}
	if !valid {
		return b, errInvalidRequestHead
	}
	return appendFraming(b, req, withBody, chunked), nil
}

// appendField appends the lines of a field, none if the client frames
// the message by it; it reports false for a field that cannot be written
// (an unchecked name or value, what o does not vouch for, that is
// invalid). at is the field's place in o, -1 if none.
func appendField(b []byte, o *h1.FieldOrder, at int, name string, values []string) ([]byte, bool) {
	if framingField(name) {
		return b, true
	}
	if at < 0 && !h1.ValidFieldName(name) {
		return b, false
	}
	for _, v := range values {
		if !o.Trusted(v) && !h1.ValidFieldValue(v) {
			return b, false
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	return b, true
}

// orderOf is the order of req's fields, which the proxy noted when it
// built them in its exchange's storage; nil otherwise.
func orderOf(req *http.Request) *h1.FieldOrder {
	x := exchangeOf(req)
	if x == nil {
		x, _ = req.Context().Value(exchangeKey{}).(*exchange)
	}
	if x == nil || !sameMap(req.Header, x.outHdr) {
		return nil
	}
	return &x.outOrder
}

// sameMap reports whether a and b are one map. A map value is a pointer
// to the map (reflect.Value.UnsafePointer says as much, slower).
func sameMap(a, b http.Header) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

// errInvalidRequestHead: a phase set a method, Host or field that cannot
// be written without changing the message (a CR or LF in a value, say).
var errInvalidRequestHead = errors.New("request head has an invalid method, host or header field")

// framingField: fields this client writes itself, from the request's
// ContentLength, Trailer and Host.
func framingField(name string) bool {
	switch name {
	case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

func appendTarget(b []byte, u *url.URL) []byte {
	if u.Opaque != "" { // OPTIONS *
		return append(b, u.Opaque...)
	}
	start := len(b)
	b = append(b, u.EscapedPath()...)
	if len(b) == start {
		b = append(b, '/')
	}
	if u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
}

func appendFraming(b []byte, req *http.Request, withBody, chunked bool) []byte {
	if req.Close && req.Header["Connection"] == nil {
		b = append(b, "Connection: close\r\n"...)
	}
	switch {
	case chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if len(req.Trailer) > 0 {
			b = append(b, "Trailer: "...)
			first := true
			for name := range req.Trailer {
				if !h1.ValidFieldName(name) {
					continue
				}
				if !first {
					b = append(b, ", "...)
				}
				b, first = append(b, name...), false
			}
			b = append(b, "\r\n"...)
		}
	case withBody:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	case req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...) // as http.Transport: some servers want a length
	}
	return append(b, "\r\n"...)
}

var requestBodyBufs = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// chunkWriters buffer a chunked body's framing with its data, so that a
// chunk goes out in one write; only chunked uploads need one.
var chunkWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, copyBufferSize+64) }}

// writeBody streams the request body to the peer, each read sent as it
// comes (one chunk per read when chunked). It tells failures reading the
// body (the client's) from failures writing it (the peer's).
func (pc *h1Conn) writeBody(req *http.Request, chunked bool) (clientErr, peerErr error) {
	bp := requestBodyBufs.Get().(*[]byte)
	defer requestBodyBufs.Put(bp)
	if chunked {
		bw := chunkWriters.Get().(*bufio.Writer)
		bw.Reset(pc.conn)
		defer func() {
			bw.Reset(nil)
			chunkWriters.Put(bw)
		}()
		var cw h1.ChunkedWriter
		cw.Reset(bw)
		return copyChunked(bw, &cw, req, *bp)
	}
	return copyLength(pc.conn, req.Body, req.ContentLength, *bp)
}

// copyLength sends exactly n bytes of body; a body that ends sooner is
// the client's failure, and bytes beyond n are not sent.
func copyLength(w io.Writer, body io.Reader, n int64, buf []byte) (clientErr, peerErr error) {
	for n > 0 {
		if int64(len(buf)) > n {
			buf = buf[:n]
		}
		got, rerr := body.Read(buf)
		if got > 0 {
			n -= int64(got)
			if _, err := w.Write(buf[:got]); err != nil {
				return nil, err
			}
		}
		switch {
		case n == 0:
		case rerr == io.EOF:
			return io.ErrUnexpectedEOF, nil
		case rerr != nil:
			return rerr, nil
		}
	}
	return nil, nil
}

// copyChunked sends body as chunks, then the last chunk with the
// request's trailer, which the body's end has filled in.
func copyChunked(bw *bufio.Writer, cw *h1.ChunkedWriter, req *http.Request, buf []byte) (clientErr, peerErr error) {
	for {
		got, rerr := req.Body.Read(buf)
		if got > 0 {
			_, _ = cw.Write(buf[:got])
			if err := bw.Flush(); err != nil {
				return nil, err
			}
		}
		switch {
		case rerr == io.EOF:
			_ = cw.Close(req.Trailer)
			return nil, bw.Flush()
		case rerr != nil:
			return rerr, nil
		}
	}
}
