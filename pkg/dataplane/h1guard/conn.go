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

	// The connection's first bytes are held back while they may be the
	// HTTP/2 preface (see readStart).
	started bool
	start   [len(h2Preface)]byte
	held    []byte // judged, not yet delivered
}

var _ net.Conn = (*Conn)(nil)

// poisonHead replaces a refused head. Whatever part of that head net/http
// already holds, these bytes make it unparseable: a NUL is invalid in a
// request line, a field name, a field value and a chunk size alike, and
// the empty line ends the head, so net/http answers "400 Bad Request" and
// closes. A read error would not do: net/http closes silently on one
// between requests. At the start of a connection net/http first peeks at
// len("PRI * HTTP/2.0") bytes for the HTTP/2 preface; the poison is at
// least that long so that it does not wait there for more.
const poisonHead = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\r\n\r\n"

// Wrap guards c.
func Wrap(c net.Conn) *Conn { return &Conn{Conn: c, parser: newParser()} }

// Read returns what c received, except that the head of a request breaking
// the rules (or the bad bytes of a body), and everything after it, is
// replaced by poisonHead; Refused then reports the *Violation.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if !c.started {
		c.started = true
		if err := c.readStart(); err != nil {
			return 0, err
		}
	}
	if len(c.held) > 0 {
		n := copy(b, c.held)
		c.held = c.held[n:]
		return n, nil
	}
	if c.refused != nil {
		return c.readPoison(b, 0)
	}
	n, err := c.Conn.Read(b)
	if n == 0 || c.off.Load() {
		return n, err
	}
	n = c.judge(b[:n])
	if c.refused == nil {
		return n, err
	}
	return c.readPoison(b, n)
}

// readStart reads the connection's first bytes and holds them back while
// they are the beginning of the HTTP/2 preface: only the whole preface
// hands the connection to HTTP/2 unjudged. net/http reads it in two peeks,
// and serves as HTTP/1 whatever turns out not to be the preface, so
// judging the first line alone would either pass on a "PRI * HTTP/2.0"
// request that net/http serves, or refuse a real HTTP/2 connection. A read
// error after some bytes is left for the next read, which meets it again.
func (c *Conn) readStart() error {
	n := 0
	for n < len(c.start) && string(c.start[:n]) == h2Preface[:n] {
		m, err := c.Conn.Read(c.start[n:])
		n += m
		if err != nil && n == 0 {
			return err
		}
		if err != nil {
			break
		}
	}
	c.held = c.start[:n]
	if string(c.held) == h2Preface {
		c.off.Store(true) // prior-knowledge HTTP/2: not ours to judge
		return nil
	}
	c.held = c.held[:c.judge(c.held)]
	return nil
}

// judge feeds b, bytes just read, to the parser and returns how many of
// them to deliver: all, or on a violation those before the refused bytes
// (whose place the poison takes).
func (c *Conn) judge(b []byte) int {
	at, v := c.parser.feed(b)
	if v == nil {
		return len(b)
	}
	c.refused, c.poison = v, []byte(poisonHead)
	return at
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
