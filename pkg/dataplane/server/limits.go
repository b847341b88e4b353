package server

import (
	"context"
	"io"
	"net"
	"net/http"
)

type overLimitKey struct{}

// connContext runs for each accepted connection before net/http counts it
// (ConnState StateNew), so conns is the number already being served.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	ctx = withTLSConn(ctx, c)
	if max := s.opts.MaxConnections; max > 0 && s.conns.Load() >= int64(max) {
		ctx = context.WithValue(ctx, overLimitKey{}, true)
	}
	return ctx
}

func overLimit(ctx context.Context) bool {
	v, _ := ctx.Value(overLimitKey{}).(bool)
	return v
}

// refuse answers a connection beyond MaxConnections: a clear 503 costs
// little, unlike the file descriptors and memory that serving it would.
func (t *tracker) refuse(w http.ResponseWriter) {
	if n := t.refused.Add(1); n&(n-1) == 0 { // 1st, 2nd, 4th, 8th, ...
		t.logf("server: connection limit reached: %d connections refused with 503 so far", n)
	}
	h := w.Header()
	h.Set("Connection", "close") // ignored by HTTP/2, where idle timeout ends it
	h.Set("Retry-After", "1")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, "503 Service Unavailable: too many connections\n")
}
