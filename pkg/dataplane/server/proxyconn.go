package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// proxyListener requires a PROXY protocol header on every connection it
// accepts. Accept only wraps: the header is read in the connection's own
// goroutine, on its first Read, RemoteAddr or LocalAddr (net/http asks for
// RemoteAddr first thing when it starts serving a connection), so a slow
// or silent client never holds up the accept loop.
type proxyListener struct {
	net.Listener
	timeout time.Duration  // to receive the whole header
	trusted []netip.Prefix // empty: every peer may speak for a client
	refused *sparseLog     // malformed or missing headers
	ignored *sparseLog     // headers from peers that are not trusted
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxyConn{Conn: c, l: l}, nil
}

// proxyConn is a connection behind a PROXY protocol header. Its
// RemoteAddr and LocalAddr are the ones the header carried: the client
// and the address it connected to at the load balancer.
type proxyConn struct {
	net.Conn
	l *proxyListener

	once          sync.Once
	remote, local net.Addr
	rest          []byte // received after the header, not yet read
	err           error  // the header was refused; the connection is closed

	mu       sync.Mutex
	deadline time.Time // the read deadline the user set, restored after the header
}

func (c *proxyConn) Read(b []byte) (int, error) {
	c.once.Do(c.readHeader)
	if c.err != nil {
		return 0, c.err
	}
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *proxyConn) RemoteAddr() net.Addr {
	c.once.Do(c.readHeader)
	return c.remote
}

func (c *proxyConn) LocalAddr() net.Addr {
	c.once.Do(c.readHeader)
	return c.local
}

func (c *proxyConn) SetDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *proxyConn) SetReadDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *proxyConn) setDeadline(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

// readHeader reads and applies the header, within the timeout. A refused
// header closes the connection: its framing is unknown, so nothing can be
// answered (nginx, HAProxy and Envoy close too).
func (c *proxyConn) readHeader() {
	c.remote, c.local = c.Conn.RemoteAddr(), c.Conn.LocalAddr()
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.l.timeout))
	h, rest, err := readProxyHeader(c.Conn, c.l.timeout)
	c.mu.Lock()
	_ = c.Conn.SetReadDeadline(c.deadline)
	c.mu.Unlock()
	if err != nil {
		c.l.refused.log(slog.String("peer", c.remote.String()), slog.Any("err", err))
		// An OpError on "read" is what net/http takes for a client that
		// went away: it closes without writing an answer or logging.
		c.err = &net.OpError{Op: "read", Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
		_ = c.Conn.Close()
		return
	}
	c.rest = rest
	if !h.src.IsValid() {
		return
	}
	if !c.trusts(c.remote) {
		c.l.ignored.log(slog.String("peer", c.remote.String()))
		return
	}
	c.remote, c.local = net.TCPAddrFromAddrPort(h.src), net.TCPAddrFromAddrPort(h.dst)
}

// trusts reports whether peer may speak for a client. With no trusted
// proxies configured every peer may: the listener is then assumed to be
// reachable only through the load balancer, as with HAProxy's accept-proxy.
func (c *proxyConn) trusts(peer net.Addr) bool {
	if len(c.l.trusted) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(peer.String())
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap().WithZone("")
	return slices.ContainsFunc(c.l.trusted, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// readProxyHeader reads a PROXY protocol header from r and returns it with
// whatever was read past it.
func readProxyHeader(r io.Reader, timeout time.Duration) (proxyHeader, []byte, error) {
	buf := make([]byte, 0, 256) // a v1 line, or a v2 header with IPv6 and some TLVs
	for {
		h, n, err := parseProxyHeader(buf)
		if err == nil {
			return h, buf[n:len(buf):len(buf)], nil
		}
		if !errors.Is(err, errNeedMore) {
			return proxyHeader{}, nil, err
		}
		if n > cap(buf) {
			buf = slices.Grow(buf, n-len(buf))
		}
		m, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if rerr != nil && m == 0 {
			return proxyHeader{}, nil, incomplete(rerr, len(buf), timeout)
		}
	}
}

func incomplete(err error, got int, timeout time.Duration) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: not complete within %s, %d bytes received", errProxyHeader, timeout, got)
	case errors.Is(err, io.EOF) && got == 0:
		return fmt.Errorf("%w: connection closed before sending one", errProxyHeader)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: connection closed after %d bytes of it", errProxyHeader, got)
	}
	return fmt.Errorf("%w: %w", errProxyHeader, err)
}

// sparseLog logs the 1st, 2nd, 4th, 8th... occurrence of something that
// any client can cause as often as it likes.
type sparseLog struct {
	logger *slog.Logger
	msg    string
	n      atomic.Int64
}

func (s *sparseLog) log(attrs ...slog.Attr) {
	if n := s.n.Add(1); n&(n-1) == 0 {
		s.logger.LogAttrs(context.Background(), slog.LevelWarn, s.msg, append(attrs, slog.Int64("so_far", n))...)
	}
}

// Unwrap is the connection under the header, for its socket (rawConnOf).
func (c *proxyConn) Unwrap() net.Conn { return c.Conn }
