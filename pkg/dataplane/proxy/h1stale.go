package proxy

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// staleCheck tells, without blocking, whether an idle connection can be
// read from: the peer closed it or sent something unasked. Either way it
// must not carry another request. Pingora makes the same check before it
// reuses a connection; http.Transport learns it from its read goroutine.
type staleCheck struct {
	conn    net.Conn
	raw     syscall.RawConn // nil: the connection cannot be checked
	peek    func(fd uintptr) bool
	gotData bool
}

func (s *staleCheck) init(c net.Conn) {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			s.conn, s.raw = c, raw
			s.peek = s.peekOnce
		}
	}
}

// peekOnce peeks at one byte without waiting: data or end of stream (or
// an error) means readable; would-block means still idle.
func (s *staleCheck) peekOnce(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	s.gotData = n > 0 || err != syscall.EAGAIN
	return true // done: never wait for readiness
}

func (s *staleCheck) readable() bool {
	if s.raw == nil {
		return false
	}
	err := s.raw.Read(s.peek)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The response's deadline, which the exchange may leave in place
		// (see h1Conn.readResponse), passed while the connection idled.
		_ = s.conn.SetReadDeadline(time.Time{})
		err = s.raw.Read(s.peek)
	}
	return err != nil || s.gotData
}
