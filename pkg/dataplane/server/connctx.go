package server

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// connCtx is an HTTP/1 connection's context, its requests' context: the
// connection's values (base), cancelled when the connection ends, its
// client is found gone (checkGone) or the Server stops. It is its own
// cancel, kept in the h1conn: context.WithCancel cost two allocations
// per connection, and a watch on it (the proxy's for a client gone) two
// more for the children map of a cancelCtx and one for its Done channel.
//
// The Server's base context is not watched per connection: its
// cancellation reaches connCtx through the connection set (see
// connSet.cancelAll), and Err, Done, AfterFunc and Watch also consult it,
// for a connection not in the set yet when the Server stopped.
//
// AfterFunc (context's afterFuncer) lets contexts derived from it
// register without a goroutine, Watch lets the proxy's watch for a client
// gone register without an allocation; the Done channel is made only for
// who asks for it.
type connCtx struct {
	base      *connValues
	cancelled atomic.Bool
	mu        sync.Mutex
	done      chan struct{} // made lazily; closed on cancel
	hooks     []*connHook   // what AfterFunc registered and is still to run
	first     connHook      // the first registration's storage, never reused
	hookArr   [1]*connHook  // hooks' first backing array
	watchers  watchList     // what Watch registered and is still to run
}

// watcher is what Watch registers: one that is its own key, so that its
// registration allocates nothing (AfterFunc's stop function is one
// allocation). pkg/dataplane/proxy's watch for a client gone is one.
type watcher interface{ ContextDone() }

// watchList is a context's watchers, held in an array of one at first:
// the proxy registers one per request, which then allocates nothing.
type watchList struct {
	ws  []watcher
	arr [1]watcher
}

func (l *watchList) add(w watcher) {
	if l.ws == nil {
		l.ws = l.arr[:0]
	}
	l.ws = append(l.ws, w)
}

// remove undoes add(w), and reports whether w was still there.
func (l *watchList) remove(w watcher) bool {
	var kept bool
	l.ws, kept = removeRegistration(l.ws, w)
	return kept
}

// take empties the list and returns what it held.
func (l *watchList) take() []watcher {
	ws := l.ws
	l.ws = nil
	return ws
}

// connHook is one AfterFunc registration.
type connHook struct {
	c *connCtx
	f func()
}

var (
	_ context.Context = (*connCtx)(nil)
	// pkg/dataplane/proxy's watchable: the method set its watch for a
	// client gone looks for.
	_ interface {
		Watch(w interface{ ContextDone() })
		Unwatch(w interface{ ContextDone() }) bool
	} = (*connCtx)(nil)
)

func (c *connCtx) Deadline() (time.Time, bool) { return c.base.Deadline() }

func (c *connCtx) Value(key any) any { return c.base.Value(key) }

func (c *connCtx) Err() error {
	if c.cancelled.Load() || c.parentDone() {
		return context.Canceled
	}
	return nil
}

// parentDone reports whether the Server's base ended, cancelling c if so.
func (c *connCtx) parentDone() bool {
	if c.base.Context.Err() == nil {
		return false
	}
	c.cancel()
	return true
}

func (c *connCtx) Done() <-chan struct{} {
	c.parentDone()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.cancelled.Load() {
			close(c.done)
		}
	}
	return c.done
}

// AfterFunc calls f in a goroutine of its own once c is cancelled, as
// context.AfterFunc does, unless stop is called first.
func (c *connCtx) AfterFunc(f func()) (stop func() bool) {
	c.parentDone()
	c.mu.Lock()
	if c.cancelled.Load() {
		c.mu.Unlock()
		go f()
		return stopped
	}
	h := &c.first
	if h.c != nil {
		// Not the first registration: rare (a derived context, a watch
		// registered again after the connection idled). The first's
		// storage is not reused, so that a stop called twice, which
		// the contract allows, never stops another registration.
		h = &connHook{}
	}
	h.c, h.f = c, f
	if c.hooks == nil {
		c.hooks = c.hookArr[:0]
	}
	c.hooks = append(c.hooks, h)
	c.mu.Unlock()
	return h.unregister
}

func stopped() bool { return false }

// Watch calls w.ContextDone in a goroutine of its own once c is
// cancelled, unless Unwatch(w) is called first: AfterFunc without an
// allocation, for who calls it once per connection (the proxy).
func (c *connCtx) Watch(w interface{ ContextDone() }) {
	c.parentDone()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled.Load() {
		go w.ContextDone()
		return
	}
	c.watchers.add(w)
}

// Unwatch undoes Watch(w), and reports whether it kept w from being
// called.
func (c *connCtx) Unwatch(w interface{ ContextDone() }) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watchers.remove(w)
}

// unregister is a registration's stop: it reports whether it kept f from
// being called.
func (h *connHook) unregister() bool {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var kept bool
	if c.hooks, kept = removeRegistration(c.hooks, h); kept {
		h.f = nil
	}
	return kept
}

// removeRegistration removes r from rs, in place, and reports whether it
// was there; the freed slot is cleared, so that it keeps nothing alive.
func removeRegistration[T comparable](rs []T, r T) ([]T, bool) {
	var zero T
	if n := len(rs) - 1; n >= 0 && rs[n] == r {
		// The latest registration, as a watch that ends before the next
		// begins (the proxy's, once per request) always is: no search,
		// nothing to move.
		rs[n] = zero
		return rs[:n], true
	}
	i := slices.Index(rs, r)
	if i < 0 {
		return rs, false
	}
	rs = append(rs[:i], rs[i+1:]...)
	rs[:cap(rs)][len(rs)] = zero
	return rs, true
}

// cancel ends c: its Done channel closes and its registrations run.
func (c *connCtx) cancel() {
	if c.cancelled.Load() {
		return
	}
	c.mu.Lock()
	if c.cancelled.Swap(true) {
		c.mu.Unlock()
		return
	}
	if c.done != nil {
		close(c.done)
	}
	hooks := c.hooks
	c.hooks = nil
	for _, w := range c.watchers.take() {
		go w.ContextDone()
	}
	for _, h := range hooks {
		f := h.f
		h.f = nil
		go f()
	}
	c.mu.Unlock()
}
