package h1

import (
	"bufio"
	"io"
)

// ReadRequest reads the next request head from br into h, skipping empty
// lines before it (RFC 9112 §2.2). The head's views stay valid until br is
// read again. A head longer than limit is refused with 431. At a clean end
// of the stream (no byte of a head) it returns io.EOF.
func ReadRequest(br *bufio.Reader, h *Head, limit int) error {
	if err := skipEmptyLines(br); err != nil {
		return err
	}
	return readHead(br, h, limit, func(b []byte) (int, error) { return ParseRequest(b, h, limit) })
}

// ReadResponse reads a response head to a request with method from br
// into h; errors are as ParseResponse's, or the read's.
func ReadResponse(br *bufio.Reader, h *Head, limit int, method string) error {
	return readHead(br, h, limit, func(b []byte) (int, error) { return ParseResponse(b, h, limit, method) })
}

// HeadBuffered reports whether br holds a whole head, no empty line
// before it: reading it then reads nothing from the stream, and needs no
// read deadline.
func HeadBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return len(b) > 0 && b[0] != '\r' && b[0] != '\n' && (endsWithEmptyLine(b) || headEnd(b, 0) >= 0)
}

// endsWithEmptyLine: b ends with an LF and an empty line, so holds a head
// end (headEnd finds the first, maybe this one). A keep-alive client's
// bodiless request is the whole buffer: it ends so, and needs no scan.
func endsWithEmptyLine(b []byte) bool {
	n := len(b)
	return n >= 2 && b[n-1] == '\n' && (b[n-2] == '\n' || n >= 3 && b[n-2] == '\r' && b[n-3] == '\n')
}

func skipEmptyLines(br *bufio.Reader) error {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return err
		}
		switch b[0] {
		case '\n':
			_, _ = br.Discard(1)
		case '\r':
			if b, err := br.Peek(2); err != nil || b[1] != '\n' {
				return nil // a bare CR: the parser refuses it
			}
			_, _ = br.Discard(2)
		default:
			return nil
		}
	}
}

// readHead waits until br holds a whole head and parses it in place; a
// head larger than br's buffer is gathered in h.spill first.
func readHead(br *bufio.Reader, h *Head, limit int, parse func([]byte) (int, error)) error {
	h.spill = h.spill[:0]
	for need := 1; ; need = br.Buffered() + 1 {
		if need > br.Size() {
			return readSpilled(br, h, limit, parse)
		}
		if br.Buffered() < need {
			if b, err := br.Peek(need); err != nil && len(b) < need {
				return incomplete(len(b), err)
			}
		}
		b, _ := br.Peek(br.Buffered())
		n, perr := parse(b)
		if perr == ErrIncomplete {
			continue
		}
		if perr == nil {
			_, _ = br.Discard(n)
		}
		return perr
	}
}

// readSpilled moves bytes from br to h.spill until a head is complete,
// consuming from br no byte past it. Each byte is scanned once for the
// end of the head; the head is parsed once, when it is complete or over
// the limit.
func readSpilled(br *bufio.Reader, h *Head, limit int, parse func([]byte) (int, error)) error {
	for {
		b, err := br.Peek(max(br.Buffered(), 1))
		if len(b) == 0 {
			return incomplete(len(h.spill), err)
		}
		old := len(h.spill)
		h.spill = append(h.spill, b...)
		end := headEnd(h.spill, old-2)
		if end < 0 && len(h.spill) <= limit {
			_, _ = br.Discard(len(b))
			continue
		}
		n, perr := parse(h.spill)
		if perr == nil {
			_, _ = br.Discard(n - old)
			h.spill = h.spill[:n]
		}
		return perr
	}
}

// incomplete is the error for a stream that ended inside a head.
func incomplete(got int, err error) error {
	if got == 0 && err == io.EOF {
		return io.EOF
	}
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
