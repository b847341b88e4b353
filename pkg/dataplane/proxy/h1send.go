package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
)

// sendThenRead is what an upstream connection's reader reads: the socket,
// with a request head that may wait to be written until the response is
// read, so that both happen in one turn of the poller.
//
// A read on a Go socket resets its readiness and then tries read(2) at
// once: after a request went out, the answer is not there yet, so every
// exchange paid a read that found nothing (EAGAIN) before it waited.
// nginx waits first, as its event loop knows the socket's readiness.
// Written after the reset (inside RawConn.Read), the head's answer can
// only arrive after it, so the wait that follows cannot miss it, and the
// one read that follows finds it.
type sendThenRead struct {
	conn    net.Conn
	raw     syscall.RawConn // nil: not a plain socket; heads go out at once
	pending []byte          // the head to send before the next read
	rest    []byte          // what a short write left of it
	sendErr error           // the write's failure
	unsent  bool            // the failed write sent no byte
	buf     []byte          // the reader's buffer, during a read
	n       int
	err     error
	step    func(fd uintptr) bool // s.sendOrRead, bound once: a method value per read would allocate
}

func (s *sendThenRead) init(c net.Conn) {
	s.conn = c
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			s.raw = raw
			s.step = s.sendOrRead
		}
	}
}

// deferSend keeps head to be written by the next Read, and reports false
// when it cannot: the caller writes it. head must stay untouched until then.
func (s *sendThenRead) deferSend(head []byte) bool {
	if s.raw == nil {
		return false
	}
	s.pending, s.unsent = head, false
	return true
}

func (s *sendThenRead) Read(p []byte) (int, error) {
	if s.pending == nil {
		return s.conn.Read(p)
	}
	s.buf, s.n, s.err, s.rest, s.sendErr = p, 0, nil, nil, nil
	err := s.raw.Read(s.step)
	s.pending, s.buf = nil, nil
	switch {
	case err != nil:
		return 0, err // a deadline, or the socket closed under the wait
	case s.sendErr != nil:
		return 0, s.sendErr
	case s.rest != nil:
		return s.finishSlowly(p)
	}
	return s.n, s.err
}

// sendOrRead writes the pending head on its first call, then waits (by
// returning false) for the answer, and reads it when the socket is ready.
func (s *sendThenRead) sendOrRead(fd uintptr) bool {
	if s.pending != nil {
		return s.send(int(fd))
	}
	for {
		n, err := syscall.Read(int(fd), s.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			s.err = os.NewSyscallError("read", err)
		case n == 0:
			s.err = io.EOF
		}
		s.n = max(n, 0)
		return true
	}
}

// send writes the pending head without waiting; it reports false when all
// of it went (the caller then waits for the answer), true otherwise.
func (s *sendThenRead) send(fd int) bool {
	head := s.pending
	s.pending = nil
	n, err := syscall.Write(fd, head)
	n = max(n, 0)
	switch {
	case n == len(head):
		return false
	case err == nil || err == syscall.EAGAIN || err == syscall.EINTR:
		s.rest = head[n:] // a full send buffer: finishSlowly waits for room
	default:
		s.sendErr, s.unsent = os.NewSyscallError("write", err), n == 0
	}
	return true
}

// finishSlowly sends what a short write left, waiting as any write does,
// then reads.
func (s *sendThenRead) finishSlowly(p []byte) (int, error) {
	rest := s.rest
	s.rest = nil
	if _, err := s.conn.Write(rest); err != nil {
		return 0, err
	}
	return s.conn.Read(p)
}
