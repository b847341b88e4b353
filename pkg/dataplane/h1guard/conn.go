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
	off     atomic.Bool
}

var _ net.Conn = (*Conn)(nil)

// Wrap guards c.
func Wrap(c net.Conn) *Conn { return &Conn{Conn: c, parser: newParser()} }

// Read returns what c received, except the head of a request that breaks
// the rules and anything after it: from then on it fails with *Violation.
func (c *Conn) Read(b []byte) (int, error) {
	if c.refused != nil {
		return 0, c.refused
	}
	n, err := c.Conn.Read(b)
	if n == 0 || c.off.Load() {
		return n, err
	}
	at, v := c.parser.feed(b[:n])
	if v == nil {
		return n, err
	}
	c.refused = v
	if at > 0 {
		return at, nil // the requests before it are served
	}
	return 0, v
}

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
