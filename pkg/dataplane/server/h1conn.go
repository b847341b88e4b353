package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// Buffers of a connection, lent from pools while a request is under way
// and returned while the connection is idle: an idle keep-alive
// connection then costs its goroutine and its socket, not 8 KiB more.
const (
	readBufferSize  = 4 << 10
	writeBufferSize = 4 << 10
	// idleGrace is how long a connection keeps its buffers waiting for
	// the next request: busy keep-alive clients send it sooner and read it
	// in one system call, idle ones give their buffers back after it.
	// Only a connection that came back for a second request gets it: most
	// that made one request stay idle (pools of idle keep-alives, health
	// checks), and holding 8 KiB and the stack the handler grew for 200 ms
	// each made a burst of them cost several times what they cost parked.
	idleGrace  = 200 * time.Millisecond
	graceAfter = 2 // requests served
	// maxDrainBytes is how much of an unread request body is read and
	// dropped so that the connection can serve the next request (as
	// net/http); beyond it the connection is closed instead.
	maxDrainBytes = 256 << 10
	// lingerTimeout bounds the wait for a refused client to stop sending
	// before the socket is closed (a close with unread input resets the
	// connection and may destroy the error response in flight).
	lingerTimeout = 500 * time.Millisecond
	// firstByteGrace is how long a connection holds its buffers waiting
	// for its first request, which most clients send with the handshake's
	// last packet (see awaitFirst).
	firstByteGrace = time.Millisecond
)

var errExpectation = &h1.Error{Status: http.StatusExpectationFailed, Reason: "unsupported expectation"}

// h1conn serves HTTP/1.1 on one connection, in one goroutine: requests are
// read, handled and answered in order (pipelined ones included), and the
// *http.Request and its header map are reused from one to the next.
type h1conn struct {
	connSlot
	srv     *Server
	b       *bound
	conn    net.Conn
	rawOnce sync.Once
	raw     syscall.RawConn // the socket, for checkGone and park: see rawConn
	base    connValues      // the requests' base context, kept for a connection parked and woken
	ctx     connCtx         // the connection's, cancelled when it ends or its client leaves
	state   atomic.Int32
	holding atomic.Bool  // store is lent (for tests of the idle cost)
	busy    atomic.Int64 // when (monoclock.Nanos) checkGone first saw the handler run with the whole body read (busyUnseen before); 0 otherwise
	// graceBy is the grace read deadline (monoclock.Nanos) awaitRequest
	// left in force, 0 once anything else set a read deadline: see
	// armGrace. Atomic, as a handler's timer may set a deadline.
	graceBy atomic.Int64
	first   firstGrace // of the first byte, on a deferred listener
	closing sync.Once

	plain bool     // conn is its socket: the store's out may hold (see plainSocket)
	tlsh  *tlsHold // under conn, a tls.Conn, when that may hold

	store *connStore    // lent while a request is under way, nil when idle
	br    *bufio.Reader // the store's
	bw    *bufio.Writer // the store's
	wmu   sync.Mutex    // the writer, between the handler and a 100 Continue

	req          *http.Request // reqStore
	reqStore     http.Request
	url          url.URL // req.URL of a plain target (see parseTarget)
	w            response
	reqBody      *requestBody
	local        any // the handler's, see response.ConnLocal
	served       int
	headBy       int64     // monoclock.Nanos by which the first request's head must be in; 0 after it
	idleDeadline time.Time // when an idle connection without buffers closes
	firstByte    [1]byte   // read while the connection held no buffer (see awaitUnbuffered)
	firstPending bool      // firstByte is still to be read
	isTLS        bool
	hijacked     bool
	woken        bool // from a parkedConn: its socket is in the poller's set
	h2c          bool // an h2c preface is served as HTTP/2 (cleartext only)
}

// connReader is the connection as its reader's source: it reads first
// the byte read while the connection held no buffer, and a read that
// finds a response held sends it first (see sendThenRead). It is the
// h1conn itself, which it needs most of, rather than a copy of that in
// it: the h1conn is then 1016 bytes, in the 1 KiB size class.
type connReader h1conn

func (r *connReader) Read(p []byte) (int, error) {
	c := (*h1conn)(r)
	if c.firstPending && len(p) > 0 {
		p[0], c.firstPending = c.firstByte[0], false
		return 1, nil
	}
	if out := &c.store.out; out.held != nil {
		return out.read(p)
	}
	n, err := c.conn.Read(p)
	if c.tlsh != nil && c.tlsh.owed {
		// The tls.Conn answered from what it had read before, without
		// the socket read that would have sent the records held.
		if serr := c.tlsh.settle(); serr != nil {
			return n, serr
		}
	}
	return n, err
}

func (s *Server) newH1conn(b *bound, conn net.Conn, base connValues) *h1conn {
	c := &h1conn{srv: s, b: b, conn: conn, base: base}
	c.plain = plainSocket(conn)
	c.tlsh = tlsHoldOf(conn)
	c.ctx.base = &c.base
	s.served.watchBase(s.base)
	tc, isTLS := conn.(*tls.Conn)
	c.isTLS = isTLS
	c.req = &c.reqStore // reused from one request to the next
	*c.req = *(&http.Request{}).WithContext(&c.ctx)
	addr := conn.RemoteAddr() // a PROXY protocol connection reads its header here
	if !b.noRemoteAddr {
		c.req.RemoteAddr = remoteString(addr)
	}
	if isTLS {
		st := tc.ConnectionState()
		c.req.TLS = &st
	}
	return c
}

// cancel ends the connection's context, and so the request under way.
func (c *h1conn) cancel() { c.ctx.cancel() }

// rawConn is the socket under the connection, nil if unreachable; made
// on first use, as most connections never need it.
func (c *h1conn) rawConn() syscall.RawConn {
	c.rawOnce.Do(func() { c.raw = rawConnOf(c.conn) })
	return c.raw
}

// remoteString is the client's address as TCPAddr.String has it, in
// one allocation instead of its two.
func remoteString(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP != nil && ta.Zone == "" {
		ap := ta.AddrPort()
		var buf [len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")]byte
		return string(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(buf[:0]))
	}
	if a != nil {
		return a.String()
	}
	return ""
}

// addrPortOf is the client's address a as RemoteAddr says it (an
// IPv4-mapped address unmapped, an IPv6 zone kept); the zero AddrPort
// when a is no TCP address.
func addrPortOf(a net.Addr) netip.AddrPort {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP == nil {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// serve runs the connection until it ends, a handler hijacks it, or it
// turns out to be h2c.
func (c *h1conn) serve() { c.serveFrom(false) }

// serveFrom serves requests, beginning with one whose first byte is in
// if ready, until the connection ends or goes idle (see awaitIdle).
func (c *h1conn) serveFrom(ready bool) {
	handedOff := false
	defer func() {
		if !handedOff {
			c.end()
		}
	}()
	handedOff = !c.loop(ready)
}

// loop serves requests; it reports false when the connection went idle
// and was parked (see parkedConn), or a new goroutine waits for its next
// request.
func (c *h1conn) loop(ready bool) (done bool) {
	for ; ; ready = false {
		switch {
		case ready:
		case !c.awaitRequest():
			return true
		case c.br == nil:
			if !c.park() {
				go c.awaitIdle(c.idleDeadline)
			}
			return false
		}
		if c.served == 0 && c.h2c && c.prefaceFollows() {
			c.state.Store(connActive)
			c.serveH2C()
			return true
		}
		if ready { // awaitIdle's small goroutine may serve it (on a worker: sized already, the call clears 8 KiB)
			presizeStack()
		}
		if !c.serveOne() {
			return true
		}
		c.served++
	}
}

// awaitIdle waits, in a goroutine of its own, for the first byte of the
// next request of a connection that gave its buffers back, then serves
// it. The goroutine that served the last request has returned: its
// stack, grown by the handler (16 KiB and more for the proxy), goes with
// it, and the idle connection costs a new small one (2 KiB) instead.
func (c *h1conn) awaitIdle(deadline time.Time) {
	if !c.awaitUnbuffered(deadline) {
		c.end()
		return
	}
	c.serveFrom(true)
}

// end releases what the connection holds; a hijacked connection belongs
// to its hijacker, buffers included.
func (c *h1conn) end() {
	defer c.srv.served.remove(c)
	defer c.cancel() // as net/http: the context ends with the handler, hijacked or not
	if c.hijacked {
		return
	}
	c.flushHeld()
	c.closeConn()
	if c.reqBody != nil {
		// A handler that panicked may have left a reader of the body
		// behind; it must fail, not read a buffer back in the pool.
		c.reqBody.abandon()
		c.reqBody = nil
	}
	c.release()
}

func (c *h1conn) closeConn() {
	c.closing.Do(func() { _ = c.conn.Close() })
}

// awaitRequest waits for the first byte of the next request, holding the
// buffers for idleGrace if it came back before (see graceAfter). It reports false when the connection is to end
// (timeout, EOF, drain). A connection that gave its buffers back after
// idleGrace returns true without them (c.br nil): its caller waits with
// awaitUnbuffered(c.idleDeadline), in a new goroutine (see loop).
func (c *h1conn) awaitRequest() bool {
	if c.ctx.Err() != nil {
		return false // the client was found gone (checkGone): so is this connection
	}
	if c.br != nil && c.br.Buffered() > 0 {
		return true // pipelined
	}
	timeout := c.srv.opts.IdleTimeout
	mono := monoclock.Nanos() // monoclock.At only when needed: it costs as much
	c.headBy = 0
	if c.served == 0 {
		// As net/http: the first head is due ReadHeaderTimeout after
		// the connection is ready, however slowly its first byte came.
		timeout = c.srv.opts.ReadHeaderTimeout
		c.headBy = mono + int64(timeout)
	}
	if !c.sendOwed() && !c.state.CompareAndSwap(connActive, connIdle) {
		return false // else the peek sends the response held, then turns idle
	}
	if c.br == nil {
		return c.awaitFirst(mono, monoclock.At(mono+int64(timeout))) // the first request: its stack is still small
	}
	// Without a grace the peek only takes what the layers above the
	// socket hold (a tls.Conn's rest of a record, a PROXY header's tail):
	// its deadline has passed, and only the socket's readiness wakes a
	// parked connection.
	wait := time.Duration(0)
	if c.served >= graceAfter {
		wait = min(idleGrace, timeout)
	}
	if wait == idleGrace && wait < timeout {
		c.armGrace(mono)
	} else {
		c.setReadDeadline(monoclock.At(mono + int64(wait)))
	}
	_, err := c.br.Peek(1)
	switch {
	case err == nil:
		return c.state.CompareAndSwap(connIdle, connActive)
	case !errors.Is(err, os.ErrDeadlineExceeded) || wait == timeout:
		return false
	}
	c.release()
	c.idleDeadline = monoclock.At(mono + int64(timeout))
	return true
}

// armGrace sets the read deadline for idleGrace from now, unless the
// one an earlier wait set is in force and has half a grace or more to
// go: a keep-alive client's next request then costs no timer re-armed
// (a deadline set, and its timer moved, per request). The grace is
// then 100-200 ms, which only decides when an idle connection gives
// its buffers back; nginx's timers are lazy alike, by 300 ms.
func (c *h1conn) armGrace(now int64) {
	if by := c.graceBy.Load(); by-now >= int64(idleGrace/2) {
		return
	}
	by := now + int64(idleGrace)
	_ = c.conn.SetReadDeadline(monoclock.At(by))
	c.graceBy.Store(by)
}

// setReadDeadline sets the connection's read deadline; a grace deadline
// in force (see armGrace) no longer is.
func (c *h1conn) setReadDeadline(t time.Time) {
	c.graceBy.Store(0)
	_ = c.conn.SetReadDeadline(t)
}

// awaitFirst waits for a connection's first request: with the buffers
// for firstByteGrace, as it comes at once from most clients, then
// without them. Read into the buffers, a request
// takes one read(2) instead of two (its first byte, then the rest). The
// grace begins at now (monoclock.Nanos), the caller's clock read.
func (c *h1conn) awaitFirst(now int64, deadline time.Time) bool {
	c.acquire()
	if c.lazyFirstGrace() {
		return c.awaitFirstLazily(now, deadline)
	}
	grace := monoclock.At(now + int64(firstByteGrace))
	c.setReadDeadline(grace)
	_, err := c.br.Peek(1)
	switch {
	case err == nil:
		// The grace deadline stays: what reads on sets its own (readHead
		// for the rest of a head, prefaceFollows), and a head read whole
		// costs no second deadline, set and then cleared.
		return c.state.CompareAndSwap(connIdle, connActive)
	case !errors.Is(err, os.ErrDeadlineExceeded) || !grace.Before(deadline):
		return false
	}
	c.release()
	return c.awaitUnbuffered(deadline)
}

// awaitUnbuffered reads the next request's first byte without a buffer.
func (c *h1conn) awaitUnbuffered(deadline time.Time) bool {
	c.setReadDeadline(deadline)
	n, _ := c.conn.Read(c.firstByte[:])
	if n == 0 || !c.state.CompareAndSwap(connIdle, connActive) {
		return false
	}
	c.firstPending = true
	c.acquire()
	return true
}

// acquire takes a store, and with it the buffers, for the next request.
func (c *h1conn) acquire() {
	if c.br != nil {
		return
	}
	st := storePool.Get().(*connStore)
	st.out.conn, st.out.state = c.conn, &c.state
	st.br.Reset((*connReader)(c))
	st.bw.Reset(&st.out)
	hdr := st.pristine.Header
	st.pristine = *c.req // between lends, req holds the connection's fields only (see release)
	st.pristine.Header = hdr
	c.w.header, st.respHeader = st.respHeader, nil
	c.store, c.br, c.bw = st, &st.br, &st.bw
	c.holding.Store(true)
}

// connStore is what a connection needs only while it serves a request,
// lent from a pool with the buffers it comes with and given back while
// the connection is idle: the buffers and what writes them out, the
// parser's head and body reader, the request's per-connection fields,
// and what serving requests grows and another connection can use next
// (header maps, value and field arrays, the rest of a chunk for head
// strings). A connection that makes one request (a new connection per
// request) then allocates none of it: its h1conn takes 1 KiB, not the
// 2 KiB it took with all of it inside, and the collector runs that much
// less often.
//
// Nothing a handler may still hold after the connection ended is in it:
// the request, its URL, its context and the ResponseWriter are the
// h1conn's. The body reader is reached through the request's body only
// while that is open, and the header map is given to the next request as
// it was before (see giveStore).
type connStore struct {
	br         bufio.Reader
	bw         bufio.Writer
	out        sendThenRead // what bw writes to
	head       h1.Head
	body       h1.BodyReader
	pristine   http.Request // the per-connection fields of req, and the header map
	respHeader http.Header
	vals       []string       // the backing array of req.Header's values
	reqFields  []h1.HeadField // req's fields in order (see RequestFields)
	strs       []byte         // the rest of the chunk heads' strings are cut from (see headString); strings cut from it before are never written again
}

var storePool = sync.Pool{New: func() any {
	return &connStore{br: *bufio.NewReaderSize(nil, readBufferSize), bw: *bufio.NewWriterSize(nil, writeBufferSize)}
}}

// giveStore returns the store, emptied: nothing in it may keep a request's
// strings or the connection alive, nor a map grown by an unusually large
// head.
func (c *h1conn) giveStore() {
	st := c.store
	c.store, c.br, c.bw = nil, nil, nil
	st.br.Reset(nil)
	st.bw.Reset(nil)
	sock := st.out.sock // its methods bound once (see sendread.Socket) stay with the store
	sock.Raw = nil
	st.out = sendThenRead{sock: sock}
	st.head.Release()
	st.body = h1.BodyReader{}
	hdr, resp := st.pristine.Header, c.w.header
	if len(hdr) > maxPooledFields || len(resp) > maxPooledFields {
		hdr, resp = nil, nil
	}
	clear(hdr)
	clear(resp)
	st.pristine = http.Request{Header: hdr}
	st.respHeader = resp
	if cap(st.vals) > maxPooledFields {
		st.vals = nil
	}
	st.vals = st.vals[:0]
	clear(st.vals[:cap(st.vals)])
	if cap(st.reqFields) > maxPooledFields {
		st.reqFields = nil
	}
	st.reqFields = st.reqFields[:0]
	clear(st.reqFields[:cap(st.reqFields)])
	storePool.Put(st)
}

// release returns the store and its buffers; the reader holds nothing
// unread and the writer nothing unsent when it is called.
func (c *h1conn) release() {
	if c.br == nil {
		return
	}
	c.flushHeld() // what out holds is in bw's buffer
	c.holding.Store(false)
	*c.req = c.store.pristine // drops the last request's strings and URL
	c.req.Header = nil        // the store's
	// Nothing may keep pointing into the store given back: once the
	// pool drops it, such a pointer would keep it alive for as long as
	// the connection idles.
	c.giveStore()
	c.w.cw.Reset(nil)
	c.w.release()
	c.url = url.URL{}
	releaseLocal(&c.local)
}

// serveOne reads one request, has the handler answer it, and reports
// whether the connection may serve another.
func (c *h1conn) serveOne() bool {
	deadline, err := c.readHead()
	if err != nil {
		c.refuse(err)
		return false
	}
	req, err := c.newRequest()
	if deadline || c.reqBody != nil {
		// The body is read without a deadline (the proxy's watchdog
		// bounds it); a request without one reads nothing more, and
		// the wait for the next request sets its own.
		c.setReadDeadline(time.Time{})
	}
	if err == nil && c.store.head.Expect && !c.store.head.Expect100 {
		// RFC 9110 §10.1.1 allows 417 for an expectation other than
		// 100-continue; net/http answered so, and so does Baton.
		err = errExpectation
	}
	if err != nil {
		c.refuse(err)
		return false
	}
	c.w.reset(c, req)
	if !c.runHandler(req) {
		return false
	}
	return c.finish()
}

// readHead reads the request head within ReadHeaderTimeout, and reports
// whether it set the read deadline for it. A head already in the buffer
// whole, as a keep-alive client's usually is once its first byte came,
// needs none: setting and clearing one costs a timer's arming and
// disarming per request.
func (c *h1conn) readHead() (deadline bool, err error) {
	if !h1.HeadBuffered(c.br) {
		by := c.headBy
		if by == 0 {
			by = monoclock.Nanos() + int64(c.srv.opts.ReadHeaderTimeout)
		}
		c.setReadDeadline(monoclock.At(by))
		deadline = true
	}
	return deadline, h1.ReadRequest(c.br, &c.store.head, c.srv.opts.MaxHeaderBytes)
}

// runHandler calls the handler; a panic (http.ErrAbortHandler is how a
// handler says so on purpose) aborts the response: the connection is cut.
func (c *h1conn) runHandler(req *http.Request) (ok bool) {
	defer func() {
		c.busy.Store(0)
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				c.srv.opts.Logger.Error("server: handler panicked", slog.Any("panic", v), slog.String("listener", c.b.name))
			}
			ok = false
		}
	}()
	if c.reqBody == nil {
		c.busy.Store(busyUnseen)
	}
	c.b.handler.ServeHTTP(&c.w, req)
	return !c.hijacked
}

// finish completes the response and readies the connection for the next
// request, or reports false if it must close.
func (c *h1conn) finish() bool {
	err := c.w.finish()
	body := c.reqBody
	c.reqBody = nil
	if err == nil {
		err = c.flushLast(body == nil || body.complete())
	}
	if err != nil {
		if body != nil {
			body.abandon()
		}
		return false
	}
	keep := !c.w.closeAfter
	unread := false
	if body != nil {
		keep = body.finish(keep) && keep
		unread = !body.eof
	}
	if !keep && (unread || c.br.Buffered() > 0) {
		c.lingerClose()
	}
	return keep
}

// flushLast flushes the response's last bytes, or has the writer (or,
// over TLS, the tlsHold under the tls.Conn) hold them for the wait for
// the next request to send (see sendThenRead), when that wait is what
// comes next: the connection stays open, has no pipelined request to
// serve first, and no request body left to read (after the response: a
// client that asked "Expect: 100-continue" and got no 100 Continue waits
// for it). HTTP/2 over TLS never holds: it is not served here.
func (c *h1conn) flushLast(bodyRead bool) error {
	if !bodyRead || c.w.closeAfter || c.br.Buffered() > 0 {
		return c.bw.Flush()
	}
	if c.tlsh != nil && c.tlsh.holdWrites(c.rawConn(), &c.state) {
		err := c.bw.Flush()
		c.tlsh.endHold()
		return err
	}
	if c.plain {
		out := &c.store.out
		out.sock.Raw = c.rawConn()
		out.hold = out.sock.Raw != nil
	}
	err := c.bw.Flush()
	c.store.out.hold = false // a Flush with nothing buffered wrote nothing
	return err
}

// sendOwed reports whether a response is held for the wait for the next
// request to send: that send, not the wait, turns the connection idle.
func (c *h1conn) sendOwed() bool {
	return c.store != nil && c.store.out.held != nil || c.tlsh != nil && c.tlsh.owed
}

// flushHeld sends what is held, for every way out that does not go on
// to wait for a request.
func (c *h1conn) flushHeld() {
	if c.store != nil {
		_ = c.store.out.flush()
	}
	if c.tlsh != nil {
		_ = c.tlsh.flush()
		c.tlsh.settled()
	}
}

// refuse answers a request the parser refused, or says nothing when the
// client went away or was too slow, and closes.
func (c *h1conn) refuse(err error) {
	var perr *h1.Error
	if !errors.As(err, &perr) {
		return
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(lingerTimeout))
	_, _ = c.bw.WriteString("HTTP/1.1 ")
	_, _ = c.bw.WriteString(statusLine(perr.Status))
	_, _ = c.bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	_, _ = c.bw.WriteString(http.StatusText(perr.Status) + ": " + perr.Reason + "\n")
	if c.bw.Flush() == nil {
		c.lingerClose()
	}
}

// lingerClose closes after the client stopped sending, within
// lingerTimeout: closing a socket with unread input resets the connection,
// and the reset may destroy the response still on its way.
func (c *h1conn) lingerClose() {
	c.flushHeld()
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	c.setReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, c.conn)
}

// closeIfIdle is the drain's: an idle connection is closed, one in use is
// left to finish its request (which draining makes the last).
func (c *h1conn) closeIfIdle() bool {
	if !c.state.CompareAndSwap(connIdle, connClosing) {
		return false
	}
	c.closeConn()
	return true
}

func (c *h1conn) closeNow() {
	c.state.Store(connClosing)
	c.closeConn()
}
