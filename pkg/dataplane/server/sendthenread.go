package server

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendThenRead is what a connection's writer writes to. It sends, but
// for a keep-alive response's last bytes, which it holds for the wait
// for the next request: that wait then sends them and waits in one
// poller round (issue 14). Sent first, they left the wait's read to find
// nothing (EAGAIN) before it waited: one read(2) per request more than
// nginx's, which sends, then waits for the socket's readiness.
//
// The write is done inside syscall.RawConn.Read, after the poller's
// readiness was reset: a request that arrives after it still wakes the
// wait, while a bare wait before a read could miss one that came in
// between (Go's net.Conn.Read tries the read first for that reason).
type sendThenRead struct {
	conn net.Conn
	raw  syscall.RawConn // conn's socket, when conn is it (see plainSocket)
	// state is the connection's: it turns idle, closable by a drain, only
	// once the response held was sent, or a drain would lose it.
	state *atomic.Int32
	hold  bool   // the next Write is held: set around the response's last Flush
	held  []byte // in the writer's buffer: valid until the writer writes again

	// step is sendOrRead, bound once: a closure per read would be an
	// allocation per request. What it works on is in call.
	step func(fd uintptr) bool
	call rawCall
}

// rawCall is a read's, between RawConn.Read and its step.
type rawCall struct {
	rest, p []byte // what is left to send; where to read
	n       int
	err     error
	idled   bool // sent, and the connection turned idle
}

// Write sends p, or holds it when hold is set: then p is the writer's own
// buffer (a Flush), which stays as it is until the next write into it,
// and the next thing the connection does is read (see h1conn.flushLast).
func (s *sendThenRead) Write(p []byte) (int, error) {
	if s.hold {
		s.hold, s.held = false, p
		return len(p), nil
	}
	return s.conn.Write(p)
}

// flush sends what is held, blocking as the writer would have, for every
// way out that does not go on to read.
func (s *sendThenRead) flush() error {
	if s.held == nil {
		return nil
	}
	p := s.held
	s.held = nil
	_, err := s.conn.Write(p)
	return err
}

// read sends what is held, turns the connection idle, and reads p, with
// the read deadline in force. The write does not block (the socket is
// non-blocking) and so cannot outlast the write deadline; what it could
// not send at once (a full send buffer, a partial write, EINTR) is sent
// by the connection's blocking Write, under that deadline, before the
// read.
func (s *sendThenRead) read(p []byte) (int, error) {
	held := s.held
	s.held = nil
	return s.sendAndRead(held, p)
}

// sendAndRead is read, of held: whatever happens, the idle transition is
// done once it returns, or the connection is closing.
func (s *sendThenRead) sendAndRead(held, p []byte) (int, error) {
	if s.step == nil {
		s.step = s.sendOrRead
	}
	s.call = rawCall{rest: held, p: p}
	rerr := s.raw.Read(s.step)
	call := s.call
	s.call = rawCall{} // keeps no buffer alive: they go back to pools
	switch {
	case call.rest != nil:
		return s.sendThenReadConn(call.rest, p) // nothing or part of it sent
	case !call.idled && rerr == nil:
		return 0, net.ErrClosed // a closeNow came first
	case rerr != nil:
		return 0, rerr
	}
	return call.n, call.err
}

// sendOrRead is RawConn.Read's step: first it sends, then it reads; it
// reports false to have the runtime wait for the socket to be readable.
func (s *sendThenRead) sendOrRead(fd uintptr) bool {
	c := &s.call
	if c.rest != nil {
		if c.rest = writeOnce(int(fd), c.rest); c.rest != nil {
			return true
		}
		c.idled = s.state.CompareAndSwap(connActive, connIdle)
		return !c.idled // sent: wait for the next request
	}
	c.n, c.err = readOnce(int(fd), c.p)
	return c.err != syscall.EAGAIN
}

// sendThenReadConn sends rest and reads p through the connection, as
// when nothing was held.
func (s *sendThenRead) sendThenReadConn(rest, p []byte) (int, error) {
	if _, err := s.conn.Write(rest); err != nil {
		return 0, err
	}
	if !s.state.CompareAndSwap(connActive, connIdle) {
		return 0, net.ErrClosed
	}
	return s.conn.Read(p)
}

// writeOnce writes p without waiting; it returns what is left unsent, nil
// once all of it went.
func writeOnce(fd int, p []byte) []byte {
	m, err := unix.Write(fd, p)
	if err != nil || m <= 0 {
		return p
	}
	if m == len(p) {
		return nil
	}
	return p[m:]
}

// readOnce reads as net.Conn.Read would from a readable socket.
func readOnce(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			if err == syscall.EAGAIN {
				return 0, err
			}
			return 0, os.NewSyscallError("read", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// plainSocket reports whether reads and writes of conn are its socket's
// own: a TCP connection, counted or not. A PROXY protocol connection may
// hold bytes read past its header, and a TLS one sends records, so theirs
// are not.
func plainSocket(conn net.Conn) bool {
	if cc, ok := conn.(*countedConn); ok {
		conn = cc.Conn
	}
	_, ok := conn.(*net.TCPConn)
	return ok
}

// complete reports whether the handler read the request body to its end
// (and so no 100 Continue is owed): the response may then be held too.
func (b *requestBody) complete() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.failed && !b.expect && (b.eof || b.c.body.Done())
}
