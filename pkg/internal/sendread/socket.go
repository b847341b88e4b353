package sendread

import (
	"io"
	"os"
	"syscall"
)

// Socket sends then reads on one socket. The zero value is ready once
// Raw is set; Sent is optional.
type Socket struct {
	Raw syscall.RawConn
	// Sent runs once a message is all written, before the wait for its
	// answer; an error it returns ends SendThenRead with it. The server
	// turns its connection idle there: closable by a drain only once
	// its response went.
	Sent func() error

	step func(fd uintptr) bool // s.sendOrRead, bound once: a method value per call would allocate
	call call
}

// call is one SendThenRead's, between RawConn.Read and its step.
type call struct {
	out, p []byte // what is left to send; where to read
	n      int
	err    error
}

// SendThenRead writes out without waiting, then waits for the socket to
// be readable and reads into p, in one RawConn.Read, under the socket's
// read deadline. rest is what it could not write at once (a full send
// buffer, a partial write, an error, a deadline already passed), nil
// once all of out went: the caller then sends rest its usual, blocking
// way, under its write deadline (which also tells a write's failure),
// and reads its usual way. The write cannot block, so cannot outlast a
// write deadline.
func (s *Socket) SendThenRead(out, p []byte) (n int, rest []byte, err error) {
	if s.step == nil {
		s.step = s.sendOrRead
	}
	s.call = call{out: out, p: p}
	rerr := s.Raw.Read(s.step)
	c := s.call
	s.call = call{} // keeps no buffer alive: they go back to pools
	switch {
	case c.out != nil:
		return 0, c.out, nil
	case rerr != nil:
		return 0, nil, rerr // the deadline, or the socket closed under the wait
	}
	return c.n, nil, c.err
}

// sendOrRead is RawConn.Read's step: first it sends, then it reads; it
// reports false to have the runtime wait for the socket to be readable.
func (s *Socket) sendOrRead(fd uintptr) bool {
	c := &s.call
	if c.out != nil {
		if c.out = writeOnce(int(fd), c.out); c.out != nil {
			return true
		}
		if s.Sent != nil {
			if c.err = s.Sent(); c.err != nil {
				return true
			}
		}
		return false // sent: wait for the answer
	}
	c.n, c.err = readOnce(int(fd), c.p)
	return c.err != syscall.EAGAIN
}

// writeOnce writes p without waiting; it returns what is left unsent, nil
// once all of it went.
func writeOnce(fd int, p []byte) []byte {
	m, err := syscall.Write(fd, p)
	switch {
	case err != nil || m <= 0:
		return p
	case m == len(p):
		return nil
	}
	return p[m:]
}

// readOnce reads as net.Conn.Read would from a readable socket.
func readOnce(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, err
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
