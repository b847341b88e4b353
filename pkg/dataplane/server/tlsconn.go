package server

import (
	"context"
	"crypto/tls"
	"net"
)

type tlsConnKey struct{}

// withTLSConn remembers a connection's *tls.Conn, which net/http cannot see
// under the request guard, so that requests still carry their TLS state.
func withTLSConn(ctx context.Context, c net.Conn) context.Context {
	if u, ok := c.(interface{ Unwrap() net.Conn }); ok {
		c = u.Unwrap()
	}
	if tc, ok := c.(*tls.Conn); ok {
		return context.WithValue(ctx, tlsConnKey{}, tc)
	}
	return ctx
}

// tlsStateOf is the TLS state of the request's connection, nil in cleartext.
func tlsStateOf(ctx context.Context) *tls.ConnectionState {
	tc, _ := ctx.Value(tlsConnKey{}).(*tls.Conn)
	if tc == nil {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}
