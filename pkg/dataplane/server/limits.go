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
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.conns.Add(1)
	return &countedConn{Conn: c, conns: l.conns}, nil
}

// countedConn leaves the count on its first Close, by whoever closes it:
// net/http, or the handler that hijacked it.
type countedConn struct {
	net.Conn
	conns  *atomic.Int64
	closed atomic.Bool
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
