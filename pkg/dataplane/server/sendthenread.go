package server

import (
	"net"
	"sync/atomic"

	"github.com/baton-dev/baton/pkg/internal/sendread"
)

// sendThenRead is what a connection's writer writes to. It sends, but
// for a keep-alive response's last bytes, which it holds for the wait
// for the next request: that wait then sends them and waits in one
// poller round (issue 14; see pkg/internal/sendread). Sent first, they
// left the wait's read to find nothing (EAGAIN) before it waited: one
// read(2) per request more than nginx's.
type sendThenRead struct {
	conn net.Conn
	sock sendread.Socket // conn's socket, when conn is it (see plainSocket)
	// state is the connection's: it turns idle, closable by a drain, only
	// once the response held was sent, or a drain would lose it.
	state *atomic.Int32
	hold  bool   // the next Write is held: set around the response's last Flush
	held  []byte // in the writer's buffer: valid until the writer writes again
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
// the read deadline in force; what could not be sent at once is sent by
// the connection's blocking Write, under its write deadline, first.
func (s *sendThenRead) read(p []byte) (int, error) {
	held := s.held
	s.held = nil
	return s.sendAndRead(held, p)
}

// sendAndRead is read, of held: whatever happens, the idle transition is
// done once it returns, or the connection is closing.
func (s *sendThenRead) sendAndRead(held, p []byte) (int, error) {
	if s.sock.Sent == nil {
		s.sock.Sent = s.turnIdle
	}
	n, rest, err := s.sock.SendThenRead(held, p)
	if rest != nil {
		return s.sendThenReadConn(rest, p) // nothing or part of it sent
	}
	return n, err
}

// turnIdle makes the connection idle once its response went, unless a
// closeNow came first.
func (s *sendThenRead) turnIdle() error {
	if !s.state.CompareAndSwap(connActive, connIdle) {
		return net.ErrClosed
	}
	return nil
}

// sendThenReadConn sends rest and reads p through the connection, as
// when nothing was held.
func (s *sendThenRead) sendThenReadConn(rest, p []byte) (int, error) {
	if _, err := s.conn.Write(rest); err != nil {
		return 0, heldSendError{err}
	}
	if err := s.sock.Sent(); err != nil {
		return 0, err
	}
	return s.conn.Read(p)
}

// heldSendError ends a connection whose held response could not be sent
// (its write deadline passed, the client went). It is no read deadline:
// one would pass for the end of the wait's grace, and keep the
// connection, its response cut short, waiting for a request. Nor is it
// a net.Error: a tls.Conn reading through a tlsHold keeps it, and fails
// every read after.
type heldSendError struct{ err error }

func (e heldSendError) Error() string { return "server: sending a held response: " + e.err.Error() }

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
	return !b.failed && !b.expect && (b.eof || b.c.store.body.Done())
}
