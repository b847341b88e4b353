package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
)

type connInfoKey struct{}

// connInfo is what a request needs to know about its connection.
type connInfo struct {
	// tls is the connection's *tls.Conn.
	tls *tls.Conn
	// overLimit marks a connection accepted beyond MaxConnections.
	overLimit bool
}

// countingListener counts the connections it accepted until they are
// closed. net/http forgets a connection once a handler hijacks it (a
// WebSocket tunnel), so its ConnState cannot keep the count: a tunnel
// holds a file descriptor and two goroutines as long as any request.
type countingListener struct {
	net.Listener
	conns *atomic.Int64
	// withH1: the connections will be served as HTTP/1 first (cleartext,
	// h2c included), so each comes with its h1conn, allocated with its
	// count: one allocation per connection less (see countedConn.h1).
	withH1 bool
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.conns.Add(1)
	if l.withH1 {
		h := new(h1conn)
		h.counted = countedConn{Conn: c, conns: l.conns, h1: h}
		return &h.counted, nil
	}
	return &countedConn{Conn: c, conns: l.conns}, nil
}

// countedConn leaves the count on its first Close, by whoever closes it:
// net/http, or the handler that hijacked it.
type countedConn struct {
	net.Conn
	conns  *atomic.Int64
	closed atomic.Bool
	// h1 is the h1conn this countedConn is part of, until newH1conn
	// takes it to serve the connection; nil for one allocated alone.
	h1 *h1conn
}

// h1connFor is the h1conn allocated with conn's count (see
// countingListener), else a new one: a connection is served by one.
func h1connFor(conn net.Conn) *h1conn {
	for {
		switch c := conn.(type) {
		case *countedConn:
			if h := c.h1; h != nil {
				c.h1 = nil
				return h
			}
			return new(h1conn)
		case interface{ Unwrap() net.Conn }: // a PROXY protocol header's
			conn = c.Unwrap()
		default:
			return new(h1conn)
		}
	}
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.conns.Add(-1)
	}
	return c.Conn.Close()
}

// refuse answers a connection beyond MaxConnections: a clear 503 costs
// little, unlike the file descriptors and memory that serving it would.
func (t *tracker) refuse(w http.ResponseWriter) {
	if n := t.refused.Add(1); n&(n-1) == 0 { // 1st, 2nd, 4th, 8th, ...
		t.log.Warn("server: connection limit reached; refusing connections with 503", slog.Int64("so_far", n))
	}
	h := w.Header()
	h.Set("Connection", "close") // ignored by HTTP/2, where idle timeout ends it
	h.Set("Retry-After", "1")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, "503 Service Unavailable: too many connections\n")
}

// Unwrap is the counted connection, for the socket underneath (rawConnOf).
func (c *countedConn) Unwrap() net.Conn { return c.Conn }

// connInfoOf is the request's connection record, nil if there is none.
func connInfoOf(ctx context.Context) *connInfo {
	info, _ := ctx.Value(connInfoKey{}).(*connInfo)
	return info
}
