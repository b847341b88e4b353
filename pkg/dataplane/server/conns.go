package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// Connection states for the drain: only an idle connection may be closed
// under its owner's feet, and the owner takes it out of idle with a CAS
// so that a request arriving at that moment is never cut.
const (
	connActive int32 = iota
	connIdle
	connClosing
	connParked // handed to a parkedConn, which the drain closes instead
)

// served is a connection a Server serves: HTTP/1 (h1conn) or HTTP/2.
type served interface {
	// closeIfIdle closes the connection if no request is under way on it.
	closeIfIdle() bool
	// closeNow closes the connection whatever it is doing.
	closeNow()
	// checkGone cancels the request under way if its client has gone.
	checkGone(now int64)
	// slot is where the connection is in its connSet.
	slot() *connSlot
}

// connSlot is a connection's place in its connSet: its index in all, plus
// one; 0 while it is in none.
type connSlot struct{ i int32 }

func (s *connSlot) slot() *connSlot { return s }

// connSet tracks the connections served, which http.Server used to do.
// A slice with each connection's index in it, rather than a map: a
// connection per request added and removed a key hashed as an interface,
// in a map as large as the connections open.
type connSet struct {
	mu  sync.Mutex
	all []served
	n   atomic.Int64 // what the drain waits on (waitServed)
	// baseWatch registers cancelAll on the Server's base context, once.
	baseWatch sync.Once
}

// watchBase has the end of base, the Server's, cancel the contexts of the
// HTTP/1 connections in the set (see connCtx): one watch for the Server
// rather than a child context per connection.
func (s *connSet) watchBase(base context.Context) {
	s.baseWatch.Do(func() { context.AfterFunc(base, s.cancelAll) })
}

// cancelAll cancels the contexts of the HTTP/1 connections in the set. A
// connection added after it ran finds the base ended by itself (connCtx
// consults it).
func (s *connSet) cancelAll() {
	s.each(func(c served) {
		if h, ok := c.(*h1conn); ok {
			h.cancel()
		}
	})
}

func (s *connSet) add(c served) {
	s.mu.Lock()
	s.all = append(s.all, c)
	c.slot().i = int32(len(s.all))
	s.mu.Unlock()
	s.n.Add(1)
}

func (s *connSet) remove(c served) {
	s.mu.Lock()
	if at := c.slot(); at.i > 0 {
		i, last := at.i-1, len(s.all)-1
		s.all[i] = s.all[last]
		s.all[i].slot().i = i + 1
		s.all[last] = nil
		s.all = s.all[:last]
		at.i = 0
	}
	s.mu.Unlock()
	s.n.Add(-1)
}

// each calls f on every tracked connection, outside the lock.
func (s *connSet) each(f func(served)) {
	s.mu.Lock()
	all := append([]served(nil), s.all...)
	s.mu.Unlock()
	for _, c := range all {
		f(c)
	}
}

// goneCheckInterval is how often requests in flight are checked for a
// client that went away (see h1conn.checkGone).
const goneCheckInterval = 100 * time.Millisecond

// watchGone checks the requests in flight for clients that went away
// until stop is closed: one goroutine per Server instead of net/http's
// background read per connection. onTick runs on every check.
func (s *connSet) watchGone(stop <-chan struct{}, onTick func()) {
	tick := time.NewTicker(goneCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if s.n.Load() > 0 {
				s.checkAll(monoclock.Nanos())
			}
			onTick()
		}
	}
}

// checkAll runs checkGone on every connection under the lock: it neither
// blocks nor allocates, and copying a large set every tick would.
func (s *connSet) checkAll(now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.all {
		c.checkGone(now)
	}
}
