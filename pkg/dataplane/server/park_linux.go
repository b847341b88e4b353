//go:build linux

package server

import (
	"net"
	"sync/atomic"
	"time"
)

// parkedConn is an idle HTTP/1 keep-alive connection that no goroutine
// waits on: its h1conn, buffers, request and goroutine are gone, and the
// Server's poller watches its socket (issue 14: a goroutine per idle
// connection cost 2 KiB of stack and more, against nginx's 0.7 KiB in all).
// When the socket turns readable, or its client hangs up, a new goroutine
// serves it (wake); its idle timeout, or the drain, closes it.
type parkedConn struct {
	connSlot
	srv      *Server
	b        *bound
	conn     net.Conn
	base     connValues // the requests' base context
	deadline time.Time  // the idle timeout
	timer    *time.Timer
	fd       int32 // while registered with the poller
	// parkedBefore: the socket is in the poller's epoll set from an
	// earlier park (see poller.add).
	parkedBefore bool
	gen          uint32 // tells this registration's events from an earlier holder's of fd
	state        atomic.Int32
}

// Parked states: only the one who moves a parkedConn out of parkIdle may
// wake or close it.
const (
	parkParking int32 = iota // being registered
	parkIdle
	parkWoken
	parkClosed
)

// park hands the idle connection, which holds no buffers, to the poller;
// it reports false when the connection is to be waited on as before, in a
// goroutine: no poller, a socket it cannot watch, or a drain that just
// closed it. On true the caller's goroutine may end; c is done with.
func (c *h1conn) park() bool {
	pl := c.srv.poller()
	if pl == nil || c.rawConn() == nil || time.Until(c.idleDeadline) <= 0 {
		return false
	}
	p := &parkedConn{srv: c.srv, b: c.b, conn: c.conn, base: c.base, deadline: c.idleDeadline, parkedBefore: c.woken}
	c.srv.served.add(p) // before c leaves the set: a drain always sees one of them
	if !c.state.CompareAndSwap(connIdle, connParked) {
		c.srv.served.remove(p)
		return false
	}
	if !pl.add(p, c.rawConn()) {
		p.state.Store(parkClosed) // still parkParking: no one else had it
		c.srv.served.remove(p)
		c.state.CompareAndSwap(connParked, connIdle)
		return false
	}
	if c.state.Load() != connParked {
		p.close() // Close cut c (closeNow) while p was being registered
	}
	c.cancel()
	c.srv.served.remove(c)
	return true
}

// wake serves the parked connection again, in a new goroutine, beginning
// with the next request's first byte (or the end of file the hang-up left).
func (p *parkedConn) wake() {
	p.timer.Stop()
	c := p.srv.newH1conn(p.b, p.conn, p.base)
	c.served = 1 // no h2c preface, and the idle timeout applies
	c.woken = true
	c.state.Store(connIdle)
	p.srv.served.add(c)
	p.srv.served.remove(p)
	if p.base.Err() != nil { // the Server stopped meanwhile
		c.end()
		return
	}
	c.awaitIdle(p.deadline)
}

// close closes the parked connection unless it was woken first.
func (p *parkedConn) close() bool {
	if !p.state.CompareAndSwap(parkIdle, parkClosed) {
		return false
	}
	p.timer.Stop()
	p.srv.parker.remove(p)
	_ = p.conn.Close()
	p.srv.served.remove(p)
	return true
}

func (p *parkedConn) expire()           { p.close() }
func (p *parkedConn) closeIfIdle() bool { return p.close() }
func (p *parkedConn) closeNow()         { p.close() }
func (p *parkedConn) checkGone(int64)   {} // no request: a hang-up wakes it
