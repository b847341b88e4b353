package h1

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

const (
	get     = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	postCL  = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	chunked = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n"
	// Bodies that look like heads must not be read as heads.
	headInBody   = "GET /x HTTP/1.1\r\n Folded: yes\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	bodyLikeHead = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 80\r\n\r\n" + headInBody
	clAndTE      = "POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	obsFold      = "GET /f HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n"
	h2Preface    = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

// message is what reading one message yielded.
type message struct {
	method, target, status string
	fields                 []string // "name: value"
	body, trailer          string
	close                  bool
}

// piecesReader returns at most size bytes per read, as a client sending
// in small packets would.
type piecesReader struct {
	rest []byte
	size int
}

func (r *piecesReader) Read(b []byte) (int, error) {
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), r.size)], r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// splits are the piece sizes a stream is fed in.
func splits(n int) []int { return []int{1, 2, 3, 7, 64, max(n, 1)} }

// readRequests reads stream as a server does, head then body, with a
// reader buffer of bufSize, until the stream ends (nil) or something is
// refused (the error).
func readRequests(stream string, piece, bufSize int) ([]message, error) {
	br := bufio.NewReaderSize(&piecesReader{rest: []byte(stream), size: piece}, bufSize)
	var (
		h    Head
		body BodyReader
		out  []message
	)
	for {
		if err := ReadRequest(br, &h, 1<<16); err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		m := message{method: string(h.Method), target: string(h.Target), fields: fieldStrings(h.Fields), close: h.Close}
		body.Reset(br, &h, 1<<16)
		b, err := io.ReadAll(&body)
		m.body, m.trailer = string(b), strings.Join(fieldStrings(body.Trailer()), "\n")
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// readResponse reads one response to method from stream.
func readResponse(stream, method string, piece int) (message, error) {
	br := bufio.NewReaderSize(&piecesReader{rest: []byte(stream), size: piece}, 64)
	var h Head
	if err := ReadResponse(br, &h, 1<<16, method); err != nil {
		return message{}, err
	}
	m := message{status: string(h.Reason), fields: fieldStrings(h.Fields), close: h.Close}
	var body BodyReader
	body.Reset(br, &h, 1<<16)
	b, err := io.ReadAll(&body)
	m.body, m.trailer = string(b), strings.Join(fieldStrings(body.Trailer()), "\n")
	return m, err
}

func fieldStrings(fields []Field) []string {
	var out []string
	for _, f := range fields {
		out = append(out, string(bytes.Join([][]byte{f.Name, f.Value}, []byte(": "))))
	}
	return out
}

// statusOf is the status an *Error asks for, 0 for any other error.
func statusOf(err error) int {
	if e, ok := err.(*Error); ok {
		return e.Status
	}
	return 0
}
