package h1

import (
	"bufio"
	"bytes"
	"io"
	"math"
)

var (
	errChunkSize  = bad("malformed chunk size")
	errChunkExt   = bad("malformed chunk extension")
	errChunkEnd   = bad("chunk data not followed by CRLF")
	errTrailer    = &Error{Status: 431, Reason: "trailer section too large"}
	errChunkLine  = &Error{Status: 431, Reason: "chunk line too long"}
	maxChunkDigit = 16 // hex digits of a chunk size; more cannot fit an int64
)

type bodyState uint8

const (
	bodyDone      bodyState = iota
	bodyLength              // left bytes to read
	bodyChunkHead           // a chunk-size line next
	bodyChunkData           // left bytes of the current chunk
	bodyUntilEOF            // until the stream ends
)

// BodyReader reads one message body from the stream its head came from,
// as the head's framing delimits it, and stops exactly at its end so that
// the next message can be read from the same stream. It is reused across
// messages (Reset) without allocating.
type BodyReader struct {
	src      *bufio.Reader
	state    bodyState
	left     int64
	err      error
	maxTrail int
	trailer  []Field
	trailBuf []byte // the trailer fields' bytes, owned here
}

// Reset prepares b to read the body h frames from src. Trailers of a
// chunked body larger than maxTrailer bytes are refused with 431.
func (b *BodyReader) Reset(src *bufio.Reader, h *Head, maxTrailer int) {
	b.src, b.err, b.maxTrail, b.left = src, nil, maxTrailer, 0
	b.trailer, b.trailBuf = b.trailer[:0], b.trailBuf[:0]
	switch h.Framing {
	case Length:
		b.state, b.left = bodyLength, h.ContentLength
		if b.left == 0 {
			b.state = bodyDone
		}
	case Chunked:
		b.state = bodyChunkHead
	case UntilClose:
		b.state = bodyUntilEOF
	default:
		b.state = bodyDone
	}
}

// Done reports whether the body was read to its end (io.EOF returned or
// due): the stream is then at the next message.
func (b *BodyReader) Done() bool { return b.state == bodyDone && b.err == nil }

// Buffered reports whether the rest of the body is in the buffer it is
// read from: reading it then reads nothing from the stream, and needs no
// read deadline.
func (b *BodyReader) Buffered() bool {
	switch b.state {
	case bodyDone:
		return true
	case bodyLength:
		return b.left <= int64(b.src.Buffered())
	}
	return false
}

// Trailer is the trailer section of a chunked body once it is read; the
// views stay valid until Reset.
func (b *BodyReader) Trailer() []Field { return b.trailer }

// Read reads body bytes; io.EOF marks the body's end. A framing error is
// an *Error, a stream that ends early io.ErrUnexpectedEOF.
func (b *BodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for {
		switch b.state {
		case bodyDone:
			return 0, io.EOF
		case bodyLength, bodyChunkData:
			return b.readData(p)
		case bodyUntilEOF:
			return b.src.Read(p)
		case bodyChunkHead:
			if err := b.chunkHead(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
}

// readData reads from the left bytes of a length or a chunk.
func (b *BodyReader) readData(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := b.src.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	if b.left == 0 {
		if b.state == bodyLength {
			b.state = bodyDone
		} else if err = b.chunkEnd(); err != nil {
			b.err = err
			return n, err
		}
		return n, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// chunkEnd reads the CRLF after a chunk's data.
func (b *BodyReader) chunkEnd() error {
	crlf, err := b.src.Peek(2)
	if err != nil {
		return unexpected(err)
	}
	if crlf[0] != '\r' || crlf[1] != '\n' {
		return errChunkEnd
	}
	_, _ = b.src.Discard(2)
	b.state = bodyChunkHead
	return nil
}

// chunkHead reads a chunk-size line: 1*HEXDIG [";" chunk-ext] CRLF. The
// extension is skipped but must hold no control character; bare LF line
// ends, whitespace around the size, and sizes beyond int64 are refused.
func (b *BodyReader) chunkHead() error {
	line, err := b.readLine(errChunkLine)
	if err != nil {
		return err
	}
	size, rest, err := chunkSize(line)
	if err != nil {
		return err
	}
	if len(rest) > 0 && !validExt(rest) {
		return errChunkExt
	}
	if size == 0 {
		return b.readTrailer()
	}
	b.state, b.left = bodyChunkData, size
	return nil
}

func chunkSize(line []byte) (int64, []byte, error) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := hexDigit(line[i])
		if d < 0 {
			break
		}
		if i == maxChunkDigit || size > math.MaxInt64>>4 {
			return 0, nil, errChunkSize
		}
		size = size<<4 | int64(d)
	}
	if i == 0 || (i < len(line) && line[i] != ';') {
		return 0, nil, errChunkSize
	}
	return size, line[i:], nil
}

// validExt accepts ";" followed by bytes allowed in a field value.
func validExt(ext []byte) bool {
	for _, c := range ext[1:] {
		if !isValueByte(c) {
			return false
		}
	}
	return true
}

// readLine reads a line ending in CRLF and returns it without the CRLF;
// the view is valid until src is read again.
func (b *BodyReader) readLine(tooLong error) ([]byte, error) {
	line, err := b.src.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, tooLong
	}
	if err != nil {
		return nil, unexpected(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errBareLF
	}
	line = line[:len(line)-2]
	for _, c := range line {
		if c == '\r' {
			return nil, errBareCR
		}
	}
	return line, nil
}

var errBareLF = bad("line in a chunked body not ended by CRLF")

// readTrailer reads the trailer section after the last chunk, copying it
// into trailBuf so that it outlives further reads of src.
func (b *BodyReader) readTrailer() error {
	for {
		line, err := b.readLine(errTrailer)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			b.state = bodyDone
			return b.viewTrailer()
		}
		if len(b.trailBuf)+len(line)+1 > b.maxTrail {
			return errTrailer
		}
		if _, err := parseField(line); err != nil {
			return err
		}
		b.trailBuf = append(append(b.trailBuf, line...), '\n')
	}
}

// viewTrailer splits trailBuf, whose lines were parsed once already.
func (b *BodyReader) viewTrailer() error {
	rest := b.trailBuf
	for len(rest) > 0 {
		line, r, _ := bytes.Cut(rest, []byte{'\n'}) // no CR: readLine refused it
		f, err := parseField(line)
		if err != nil {
			return err
		}
		b.trailer = append(b.trailer, f)
		rest = r
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
