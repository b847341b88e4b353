package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
)

type connInfoKey struct{}

// connInfo is what a request needs to know about its connection that
// net/http cannot tell it.
type connInfo struct {
	// tls is the connection's *tls.Conn, which net/http cannot see under
	// the request guard (TLS is terminated below it).
	tls *tls.Conn
	// overLimit marks a connection accepted beyond MaxConnections.
	overLimit bool
}

// connContext runs for each accepted connection before net/http counts it
// (ConnState StateNew), so conns is the number already being served.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	var info connInfo
	if u, ok := c.(interface{ Unwrap() net.Conn }); ok {
		c = u.Unwrap()
	}
	info.tls, _ = c.(*tls.Conn)
	if max := s.opts.MaxConnections; max > 0 && s.conns.Load() >= int64(max) {
		info.overLimit = true
	}
	if info == (connInfo{}) {
		return ctx // most connections: nothing to carry, nothing allocated
	}
	return context.WithValue(ctx, connInfoKey{}, &info)
}

// connInfoOf is the request's connection record, nil if there is none.
func connInfoOf(ctx context.Context) *connInfo {
	info, _ := ctx.Value(connInfoKey{}).(*connInfo)
	return info
}

// tlsState is the TLS state of the connection, nil in cleartext.
func (i *connInfo) tlsState() *tls.ConnectionState {
	if i.tls == nil {
		return nil
	}
	st := i.tls.ConnectionState()
	return &st
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
