package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
	"golang.org/x/net/http2"
)

// acceptLoop accepts until the listener stops, serving every connection
// in a goroutine of its own.
func (s *Server) acceptLoop(b *bound, ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			backoff = 0
			s.dispatch(b, c)
			continue
		}
		if errors.Is(err, errStopped) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() && !isTemporary(err) {
			return err
		}
		// Out of file descriptors and the like: wait, as net/http does.
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.opts.Logger.Warn("server: accept failed; retrying", slog.String("listener", b.name), slog.Any("err", err), slog.Duration("in", backoff))
		time.Sleep(backoff)
	}
}

// connJob is a connection for the Server's connection workers to serve
// (a goroutine that served one serves the next instead of ending, see
// workers): one just accepted, or a parked one whose next request came.
type connJob struct {
	s     *Server
	b     *bound
	c     net.Conn
	woken waker // a parked connection to wake; s, b and c are unset then
}

// waker is a parked connection (see parkedConn.wake).
type waker interface{ wake() }

func (j connJob) run() {
	if j.woken != nil {
		j.woken.wake()
		return
	}
	j.s.serveConn(j.b, j.c)
}

// dispatch serves c on an idle worker, else on a new one.
func (s *Server) dispatch(b *bound, c net.Conn) {
	s.connWorkers.start(connJob{s: s, b: b, c: c})
}

// presizeStackBytes is presizeStack's frame: to fit it the runtime takes
// the stack to 16 KiB at once, which the proxy's deepest path fits in (in
// callgrind of a new connection per request, no stack grew after it).
const presizeStackBytes = 8 << 10

// presizeStack makes the calling goroutine's stack big enough to serve a
// request in one step, while it is shallow: a new worker calls it, and
// whatever serves the request an idle connection waited for. A goroutine
// starts on a small stack that the runtime doubles, by copying it and
// adjusting every frame in it, each time a call would overflow it: deep
// in the proxy, with twenty-odd frames to walk, each copy cost more than
// parsing the request, and a new connection's goroutine went through one
// or two (with a new connection per request, 14% of the CPU). Called from
// a few frames deep, the one copy costs a tenth of that. Only a new
// goroutine calls it: on a grown stack it would only clear the frame.
//
//go:noinline
func presizeStack() byte {
	var frame [presizeStackBytes]byte
	return frame[stackProbe]
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// serveConn finishes the TLS handshake, if any, and serves the
// connection as HTTP/2 (ALPN "h2", or the h2c preface in cleartext) or
// HTTP/1.1.
func (s *Server) serveConn(b *bound, c net.Conn) {
	base := s.connValues(b, c)
	if tc, ok := c.(*tls.Conn); ok {
		if !s.handshake(b, tc) {
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
			h2base := base // the copy escapes, base stays on the stack
			s.serveH2(b, tc, &h2base)
			return
		}
	}
	h := s.newH1conn(b, c, base)
	h.h2c = b.tls == nil
	s.served.add(h)
	h.serve()
}

// handshake runs the TLS handshake within ReadHeaderTimeout.
func (s *Server) handshake(b *bound, tc *tls.Conn) bool {
	d := s.opts.ReadHeaderTimeout
	_ = tc.SetDeadline(time.Now().Add(d))
	ctx, cancel := context.WithTimeout(s.base, d)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		b.handshakeErrs.log(slog.String("remote", remoteString(tc.RemoteAddr())), slog.Any("err", err))
		_ = tc.Close()
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	return true
}

// serveH2 serves an HTTP/2 connection negotiated by ALPN.
func (s *Server) serveH2(b *bound, c net.Conn, ctx context.Context) {
	h := &h2conn{conn: c}
	s.served.add(h)
	defer s.served.remove(h)
	b.h2.ServeConn(newBatchConn(c), b.h2opts(ctx))
}

// h2conn is an HTTP/2 connection as the drain sees it: x/net/http2 sends
// the GOAWAY (see Shutdown) and ends it; Close cuts it.
type h2conn struct {
	connSlot
	conn net.Conn
}

func (h *h2conn) closeIfIdle() bool { return false }
func (h *h2conn) closeNow()         { _ = h.conn.Close() }
func (h *h2conn) checkGone(int64)   {}

func (b *bound) h2opts(ctx context.Context) *http2.ServeConnOpts {
	return &http2.ServeConnOpts{Context: ctx, BaseConfig: b.hs, Handler: h2Handler{b.handler, b.h2workers}}
}

// connValues is the base context of a connection's requests: the
// server's, with the values net/http used to set and the connection
// record the tracker reads.
func (s *Server) connValues(b *bound, c net.Conn) connValues {
	v := connValues{Context: s.base, hs: b.hs, local: c.LocalAddr()}
	v.info.tls, _ = c.(*tls.Conn)
	if max := s.opts.MaxConnections; max > 0 && s.conns.Load() > int64(max) {
		v.info.overLimit = true
	}
	return v
}

// connValues is a connection's base context: one value in place of a
// context.WithValue layer for each key, which an HTTP/1 connection holds
// in its own state (three allocations less per connection).
type connValues struct {
	context.Context // the Server's base
	hs              *http.Server
	local           net.Addr
	info            connInfo
}

func (v *connValues) Value(key any) any {
	switch key {
	case http.ServerContextKey:
		return v.hs
	case http.LocalAddrContextKey:
		return v.local
	case connInfoKey{}:
		if v.info == (connInfo{}) {
			return nil
		}
		return &v.info
	}
	return v.Context.Value(key)
}

// newH2 is the HTTP/2 side of a listener: x/net/http2 serving connections
// handed to it, with a shutdown hook on hs for the drain's GOAWAY.
func (s *Server) newH2(hs *http.Server) (*http2.Server, error) {
	h2 := &http2.Server{IdleTimeout: s.opts.IdleTimeout, MaxReadFrameSize: 0}
	if err := http2.ConfigureServer(hs, h2); err != nil {
		return nil, fmt.Errorf("server: HTTP/2: %w", err)
	}
	return h2, nil
}

// statusLines are "code text\r\n" for the codes net/http knows.
var statusLines = func() (t [600]string) {
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			t[code] = strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return t
}()

func statusLine(code int) string {
	if code >= 0 && code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	return strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
}

// dateCache is the Date field value, formatted once a second. Whether
// the second is over is told by the monotonic clock alone: one clock read
// per response instead of time.Now's two (see monoclock).
type dateValue struct {
	until int64 // monoclock.Nanos when the second of b ends
	b     []byte
}

var dateCache atomic.Pointer[dateValue]

func httpDate() []byte {
	mono := monoclock.Nanos()
	if d := dateCache.Load(); d != nil && mono < d.until {
		return d.b
	}
	now := time.Now()
	d := &dateValue{until: mono + int64(time.Second) - int64(now.Nanosecond()), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}
