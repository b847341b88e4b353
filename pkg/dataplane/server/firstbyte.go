package server

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// firstGrace is the first byte's grace (firstByteGrace) of a connection
// accepted deferred, kept without a timer: the Server's gone check, which
// visits every connection each goneCheckInterval, ends it (see
// awaitFirstLazily). With a new connection per request that grace was the
// connection's one runtime timer, armed and then fired or stopped (issue
// 14); nginx's timers are as lazy.
type firstGrace struct {
	by atomic.Int64 // monoclock.Nanos when the grace ends; 0 when none runs
	mu sync.Mutex   // held while the gone check ends the grace
}

// pastDeadline wakes a blocked read at once.
var pastDeadline = time.Unix(1, 0)

// lazyFirstGrace reports whether the first byte's grace can go without a
// timer: the kernel handed the connection over with its first bytes (see
// deferAccept), so that a read finds them at once, but for a client
// handed over silent after deferSeconds. Over TLS, whose handshake came
// first, the request may still be on its way. A ReadHeaderTimeout within
// a gone check or two keeps the timer: the check would end the wait late.
func (c *h1conn) lazyFirstGrace() bool {
	return !c.isTLS && c.b.gate.deferred && c.srv.opts.ReadHeaderTimeout >= 2*goneCheckInterval
}

// awaitFirstLazily is awaitFirst without a read deadline: the first byte
// is most likely in, and a silent connection holds its buffers until the
// gone check after firstByteGrace ends the wait (expireFirstGrace), then
// waits without them as with a timer.
func (c *h1conn) awaitFirstLazily(now int64, deadline time.Time) bool {
	by := now + int64(firstByteGrace)
	c.first.by.Store(by)
	_, err := c.br.Peek(1)
	if !c.first.by.CompareAndSwap(by, 0) {
		// The gone check is ending the grace: once its deadline is set,
		// what reads on sets its own (readHead, prefaceFollows), as after
		// a grace deadline that expired.
		c.first.mu.Lock()
		c.first.mu.Unlock() //nolint:staticcheck // an empty critical section: waiting is the point
	}
	switch {
	case err == nil:
		return c.state.CompareAndSwap(connIdle, connActive)
	case !errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(deadline):
		return false
	}
	c.release()
	return c.awaitUnbuffered(deadline)
}

// expireFirstGrace ends a first byte's grace that is over by now, waking
// the read that waits for it; the gone check calls it.
func (c *h1conn) expireFirstGrace(now int64) {
	if by := c.first.by.Load(); by == 0 || now < by {
		return
	}
	c.first.mu.Lock()
	defer c.first.mu.Unlock()
	if by := c.first.by.Load(); by != 0 && now >= by && c.first.by.CompareAndSwap(by, 0) {
		c.setReadDeadline(pastDeadline)
	}
}
