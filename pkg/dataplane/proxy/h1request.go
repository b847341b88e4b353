package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/net/http/httpguts"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// appendRequestHead appends the head of a request to b: request line,
// Host, the fields of head but those that frame the message, then the
// framing this client chose (a known length, or chunked) for req, which
// has the body, its length and trailer. The fields go as they are, in
// order; one that is not Checked is checked, and one that could not be
// written unchanged fails the request.
func appendRequestHead(b []byte, head *Request, req *http.Request, withBody, chunked bool) ([]byte, error) {
	host := head.Host
	if host == "" {
		host = head.URL.Host
	}
	if !h1.ValidFieldName(head.Method) || !httpguts.ValidHostHeader(host) {
		return b, errInvalidRequestHead
	}
	b = append(b, head.Method...)
	b = append(b, ' ')
	b = appendTarget(b, head.URL)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	fields := head.Header.fields
	for i := range fields {
		f := &fields[i]
		if !f.Checked && (!h1.ValidFieldName(f.Name) || !h1.ValidFieldValue(f.Value)) {
			return b, errInvalidRequestHead
		}
		if framingFirst[f.Name[0]] && framingField(f.Name) { // a name is never empty here
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return appendFraming(b, head, req, withBody, chunked), nil
}

// framingFirst tells the first letters of the names framingField knows.
var framingFirst = func() (t [256]bool) {
	for _, c := range "chtCHT" {
		t[c] = true
	}
	return t
}()

// errInvalidRequestHead: a phase set a method, Host or field that cannot
// be written without changing the message (a CR or LF in a value, say).
var errInvalidRequestHead = errors.New("request head has an invalid method, host or header field")

// framingField: fields this client writes itself, from the request's
// ContentLength, Trailer and Host; names compare without case.
func framingField(name string) bool {
	switch len(name) {
	case 4:
		return h1.NameIs(name, "host")
	case 7:
		return h1.NameIs(name, "trailer")
	case 14:
		return h1.NameIs(name, "content-length")
	case 17:
		return h1.NameIs(name, "transfer-encoding")
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

func appendFraming(b []byte, head *Request, req *http.Request, withBody, chunked bool) []byte {
	if req.Close && !head.Header.Has("Connection") {
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
	case head.Method == http.MethodPost || head.Method == http.MethodPut || head.Method == http.MethodPatch:
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
