package h1guard

import (
	"net"
	"sync/atomic"
)

// Conn is a net.Conn whose reads are inspected as HTTP/1 requests.
type Conn struct {
	net.Conn

	// Reads never run concurrently (net/http serialises them, and a
	// hijacker reads only after net/http's background read has stopped),
	// so the parser needs no lock; off is flipped from the hijacker.
	parser  parser
	refused *Violation
	poison  []byte // what is left to deliver in place of the refused head
	off     atomic.Bool
}

var _ net.Conn = (*Conn)(nil)

// poisonHead replaces a refused head. Whatever part of that head net/http
// already holds, these bytes make it unparseable: a NUL is invalid in a
// request line, a field name and a field value alike, and the empty line
// ends the head, so net/http answers "400 Bad Request" and closes. A read
// error would not do: net/http closes silently on one between requests.
const poisonHead = "\x00\r\n\r\n"

// Wrap guards c.
func Wrap(c net.Conn) *Conn { return &Conn{Conn: c, parser: newParser()} }

// Read returns what c received, except that the head of a request breaking
// the rules, and everything after it, is replaced by poisonHead; from then
// on it returns the *Violation.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if c.refused != nil {
		return c.readPoison(b, 0)
	}
	n, err := c.Conn.Read(b)
	if n == 0 || c.off.Load() {
		return n, err
	}
	at, v := c.parser.feed(b[:n])
	if v == nil {
		return n, err
	}
	c.refused, c.poison = v, []byte(poisonHead)
	return c.readPoison(b, at)
}

// readPoison delivers b[:at] (the requests before the refused one) and as
// much of the poison as fits. Once it is all delivered, reads discard what
// the client sends and end only as the connection does: an error now would
// tell net/http the client left, and it would cancel a request before the
// refused one that may still be in flight (pipelining).
func (c *Conn) readPoison(b []byte, at int) (int, error) {
	if at > 0 || len(c.poison) > 0 {
		n := copy(b[at:], c.poison)
		c.poison = c.poison[n:]
		return at + n, nil
	}
	for {
		if _, err := c.Conn.Read(b); err != nil {
			return 0, err
		}
	}
}

// Refused is the violation that ended this connection's requests, if any.
func (c *Conn) Refused() *Violation { return c.refused }

// StopInspecting passes all further bytes through: the connection was
// hijacked for another protocol (an upgrade such as WebSocket).
func (c *Conn) StopInspecting() {
	c.off.Store(true)
}

// Unwrap is the guarded connection, for callers that need its type (a
// *tls.Conn for the connection state).
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// Listener guards every connection it accepts.
type Listener struct{ net.Listener }

var _ net.Listener = Listener{}

// Accept accepts and wraps.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
