package server

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// tlsHold is what a TLS connection's tls.Conn reads and writes: the
// client's TCP connection, where a keep-alive HTTP/1 response's last
// records are held for the wait for the next request to send, as
// sendThenRead does for cleartext (issue 14). The tls.Conn's read of the
// next request's record then sends them and waits in one poller round.
//
// The records are copied: crypto/tls encrypts into a buffer from a
// sync.Pool and puts it back when its write returns (writeRecordLocked in
// crypto/tls/conn.go, Go 1.26), so another connection may write into it
// at once. Records stay in order: any write (an alert, a KeyUpdate
// reply, close_notify) sends what is held first.
type tlsHold struct {
	net.Conn // the TCP connection, counted: its socket is out.sock's
	// mu orders the held bytes between the connection's goroutine and a
	// Close from another (the drain, Server.Close), whose close_notify
	// comes through Write.
	mu   sync.Mutex
	hold bool    // Write holds: set around an HTTP/1 response's last flush
	buf  *[]byte // the held records' copy, from heldRecords
	out  sendThenRead
	// owed: records were held, and the idle transition that their send
	// makes is still to be done (see connReader.Read, settle). The connection's
	// goroutine's alone.
	owed bool
	// sending: the connection's goroutine sends the held records, and
	// may wait for room for them; a Write from another goroutine (a
	// Close's close_notify) cannot go before them, and fails at once
	// rather than wait as long (crypto/tls bounds its close_notify by
	// 5 s, and Server.Close closes connections one by one).
	sending atomic.Bool
	// idleOnWrite is the connection's state while records are held, for
	// a Write that sends them to turn idle: a reply the tls.Conn makes
	// in the wait for the next request, before reading the socket (to a
	// KeyUpdate it read with the last request), sends them there, and
	// the connection then waits for its next request, idle, as after
	// any response. Else a drain could not close it before the request
	// or the end of the wait.
	idleOnWrite *atomic.Int32
}

// heldRecords are copies of held records: one flush of the writer's
// buffer is one record, its overhead included.
var heldRecords = sync.Pool{New: func() any { b := make([]byte, 0, writeBufferSize+256); return &b }}

// tlsHoldListener makes the TLS connections it accepts over a tlsHold,
// when under TLS is a TCP socket (a PROXY protocol connection may hold
// bytes read past its header, so it is not).
type tlsHoldListener struct {
	net.Listener
	config *tls.Config
}

func (l tlsHoldListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if plainSocket(c) {
		c = newTLSHold(c)
	}
	return tls.Server(c, l.config), nil
}

func newTLSHold(c net.Conn) *tlsHold {
	h := &tlsHold{Conn: c, out: sendThenRead{conn: c}}
	h.out.sock.Sent = h.sent
	return h
}

// errSendingHeld fails a write that would go before held records.
var errSendingHeld = errors.New("server: TLS records held are being sent")

// tlsHoldOf is the tlsHold under conn, nil if there is none.
func tlsHoldOf(conn net.Conn) *tlsHold {
	if tc, ok := conn.(*tls.Conn); ok {
		h, _ := tc.NetConn().(*tlsHold)
		return h
	}
	return nil
}

// Unwrap is the TCP connection, for the socket underneath (rawConnOf).
func (h *tlsHold) Unwrap() net.Conn { return h.Conn }

// Write sends p after what is held, or holds it too while hold is set.
func (h *tlsHold) Write(p []byte) (int, error) {
	h.mu.Lock()
	if h.hold {
		if h.buf == nil {
			h.buf = heldRecords.Get().(*[]byte)
		}
		*h.buf = append(*h.buf, p...)
		h.out.held = *h.buf
		h.mu.Unlock()
		return len(p), nil
	}
	if h.sending.Load() {
		h.mu.Unlock()
		return 0, errSendingHeld
	}
	held, buf, state := h.take()
	h.mu.Unlock()
	if held != nil {
		_, err := h.Conn.Write(held)
		recycleHeld(buf)
		if err != nil {
			return 0, err
		}
	}
	n, err := h.Conn.Write(p)
	if err == nil && state != nil {
		state.CompareAndSwap(connActive, connIdle) // else a closeNow came first
	}
	return n, err
}

// Read sends what is held and turns the connection idle in the wait for
// p (sendThenRead.sendAndRead), or only reads.
func (h *tlsHold) Read(p []byte) (int, error) {
	h.mu.Lock()
	held, buf, _ := h.take() // sendAndRead turns idle
	h.sending.Store(held != nil)
	h.mu.Unlock()
	if held == nil {
		return h.Conn.Read(p)
	}
	n, err := h.out.sendAndRead(held, p)
	if err != nil {
		h.sending.Store(false) // sent may not have run
	}
	recycleHeld(buf)
	h.settled()
	return n, err
}

// sent is the wait's, once the held records went: it turns the
// connection idle.
func (h *tlsHold) sent() error {
	h.sending.Store(false)
	return h.out.turnIdle()
}

// settled: the idle transition is done. The connection's state is let
// go, for its h1conn to be collected once the connection is parked.
func (h *tlsHold) settled() {
	h.owed, h.out.state = false, nil
}

// take empties the hold, and returns the state to turn idle once what
// it held went, nil if nothing was held; h.mu is held.
func (h *tlsHold) take() ([]byte, *[]byte, *atomic.Int32) {
	held, buf, state := h.out.held, h.buf, h.idleOnWrite
	h.out.held, h.buf, h.idleOnWrite = nil, nil, nil
	return held, buf, state
}

// holdWrites has the writes until endHold held, for the wait to send:
// raw is the socket, state the connection's (a woken connection's h1conn
// is another).
func (h *tlsHold) holdWrites(raw syscall.RawConn, state *atomic.Int32) bool {
	if raw == nil {
		return false
	}
	h.out.sock.Raw, h.out.state = raw, state
	h.mu.Lock()
	h.hold = true
	h.mu.Unlock()
	return true
}

func (h *tlsHold) endHold() {
	h.mu.Lock()
	h.hold = false
	h.owed = h.out.held != nil
	if h.owed {
		h.idleOnWrite = h.out.state
	}
	h.mu.Unlock()
}

// flush sends what is held, blocking as a write would.
func (h *tlsHold) flush() error {
	h.mu.Lock()
	held, buf, _ := h.take() // for settle to turn idle, or on the way out
	h.mu.Unlock()
	if held == nil {
		return nil
	}
	_, err := h.Conn.Write(held)
	recycleHeld(buf)
	return err
}

func recycleHeld(buf *[]byte) {
	if buf != nil {
		*buf = (*buf)[:0]
		heldRecords.Put(buf)
	}
}

// settle sends what is held and turns the connection idle, as the wait
// would have: for a tls.Conn read that did not read the socket (it had
// the next request's record already), or whose reply to a record came
// first (Write sent the held records then, and turned idle).
func (h *tlsHold) settle() error {
	state := h.out.state
	h.settled()
	if err := h.flush(); err != nil {
		return err
	}
	if !state.CompareAndSwap(connActive, connIdle) && state.Load() != connIdle {
		return net.ErrClosed // a closeNow came first
	}
	return nil
}
