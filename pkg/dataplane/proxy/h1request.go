package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/net/http/httpguts"
)

// appendRequestHead appends req's head to b: request line, Host, the
// header fields but those that frame the message, then the framing this
// client chose (a known length, or chunked).
func appendRequestHead(b []byte, req *http.Request, withBody, chunked bool) ([]byte, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHeaderFieldName(req.Method) || !httpguts.ValidHostHeader(host) {
		return b, errInvalidRequestHead
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = appendTarget(b, req.URL)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for name, values := range req.Header {
		if framingField(name) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return b, errInvalidRequestHead
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return b, errInvalidRequestHead
			}
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return appendFraming(b, req, withBody, chunked), nil
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
	switch {
	case chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if len(req.Trailer) > 0 {
			b = append(b, "Trailer: "...)
			first := true
			for name := range req.Trailer {
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

// chunkHeadroom is the room before the data in a chunk buffer for the
// chunk size line (up to 16 hex digits and CRLF).
const chunkHeadroom = 18

var requestBodyBufs = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// writeBody streams the request body to the peer, each read sent as it
// comes, as one chunk when chunked. It tells failures reading the body
// (the client's) from failures writing it (the peer's).
func (pc *h1Conn) writeBody(req *http.Request, chunked bool) (clientErr, peerErr error) {
	bp := requestBodyBufs.Get().(*[]byte)
	defer requestBodyBufs.Put(bp)
	buf := *bp
	data := buf[:len(buf)-2] // room for a chunk's CRLF
	if chunked {
		data = buf[chunkHeadroom : len(buf)-2]
	}
	left := req.ContentLength
	for {
		if !chunked && int64(len(data)) > left {
			data = data[:left]
		}
		n, rerr := req.Body.Read(data)
		if n > 0 {
			out := data[:n]
			if chunked {
				out = frameChunk(buf, n)
			}
			left -= int64(n)
			if _, err := pc.conn.Write(out); err != nil {
				return nil, err
			}
		}
		switch {
		case !chunked && left == 0:
			return nil, nil // a body longer than announced is not sent on
		case rerr == io.EOF && chunked:
			return nil, pc.writeLastChunk(req.Trailer)
		case rerr == io.EOF:
			return io.ErrUnexpectedEOF, nil
		case rerr != nil:
			return rerr, nil
		}
	}
}

// frameChunk frames the n bytes at buf[chunkHeadroom:] as one chunk and
// returns it.
func frameChunk(buf []byte, n int) []byte {
	var size [16]byte
	hex := strconv.AppendInt(size[:0], int64(n), 16)
	start := chunkHeadroom - len(hex) - 2
	copy(buf[start:], hex)
	buf[chunkHeadroom-2], buf[chunkHeadroom-1] = '\r', '\n'
	end := chunkHeadroom + n
	buf[end], buf[end+1] = '\r', '\n'
	return buf[start : end+2]
}

// writeLastChunk ends a chunked body, with the request's trailers.
func (pc *h1Conn) writeLastChunk(trailer http.Header) error {
	b := append(pc.head[:0], "0\r\n"...)
	for name, values := range trailer {
		if !httpguts.ValidHeaderFieldName(name) {
			continue
		}
		for _, v := range values {
			if httpguts.ValidHeaderFieldValue(v) {
				b = append(b, name...)
				b = append(b, ": "...)
				b = append(b, v...)
				b = append(b, "\r\n"...)
			}
		}
	}
	b = append(b, "\r\n"...)
	pc.head = b
	_, err := pc.conn.Write(b)
	return err
}
