package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// An HTTP/2 request's context is new every time: its exchange makes the
// context it hands upstream in one allocation, and rewrites its request
// prototype to carry it (two allocations before issue 14's h2 work, then
// one of 350 bytes for both).
func TestExchangeOfANewContextAllocatesOnce(t *testing.T) {
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		reqs[i] = httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	}
	x := &exchange{local: true}
	w := httptest.NewRecorder()
	n := 0
	allocs := testing.AllocsPerRun(50, func() {
		r := reqs[n%len(reqs)]
		n++
		x.begin(r, w, nil)
		x.lend = true
		if out := x.upstreamRequest(&x.session, r.Context()); out == nil || exchangeOf(out) != x {
			t.Fatal("the upstream request does not lead to the exchange")
		}
	})
	if allocs > 1 {
		t.Errorf("%.0f allocations per request with a new context, want 1", allocs)
	}
}

// hookCtx is a context that runs a function when it ends by itself, as
// pkg/dataplane/server's HTTP/1 connection context does; it has no Done
// channel to give, and its registrations cost nothing.
type hookCtx struct {
	context.Context
	hooks     int
	doneAsked bool
	done      chan struct{} // what Done gives, nil unless set
	stop      func() bool
}

func (c *hookCtx) Done() <-chan struct{} {
	c.doneAsked = true
	return c.done
}

func (c *hookCtx) AfterFunc(func()) func() bool {
	c.hooks++
	return c.stop
}

// watchCtx is hookCtx that also takes watchers, as pkg/dataplane/server's
// HTTP/1 connection context does.
type watchCtx struct {
	hookCtx
	watched int
}

func (c *watchCtx) Watch(interface{ ContextDone() }) { c.watched++ }

func (c *watchCtx) Unwatch(interface{ ContextDone() }) bool { return true }

// The watch for a client gone registers with a connection context that
// takes watchers (Watch) without an allocation, the exchange's watch
// being its own key.
func TestWatchRegistersAsAWatcher(t *testing.T) {
	x := &exchange{local: true}
	parents := make([]*watchCtx, 101) // AllocsPerRun's runs and its warm-up
	ctxs := make([]context.Context, len(parents))
	for i := range parents {
		parents[i] = &watchCtx{hookCtx: hookCtx{Context: context.Background()}}
		ctxs[i] = parents[i]
	}
	if allocs := watchAllocs(t, x, ctxs); allocs != 0 {
		t.Errorf("%.0f allocations per connection's watch, want none", allocs)
	}
	for i, p := range parents {
		if p.watched != 1 || p.hooks != 0 || p.doneAsked {
			t.Errorf("connection %d: %d watchers, %d AfterFuncs, Done asked for: %v; want 1 watcher only", i, p.watched, p.hooks, p.doneAsked)
		}
	}
}

// The watch for a client gone registers with a connection context that
// takes registrations itself: no context.AfterFunc (its child context,
// stop function, and the parent's children map, four allocations per
// connection before issue 14's context work) and no Done channel.
func TestWatchRegistersWithAConnectionContextDirectly(t *testing.T) {
	x := &exchange{local: true}
	parents := make([]*hookCtx, 101) // AllocsPerRun's runs and its warm-up
	ctxs := make([]context.Context, len(parents))
	for i := range parents {
		parents[i] = &hookCtx{Context: context.Background(), stop: func() bool { return true }}
		ctxs[i] = parents[i]
	}
	if allocs := watchAllocs(t, x, ctxs); allocs != 0 {
		t.Errorf("%.0f allocations per connection's watch, want none", allocs)
	}
	for i, p := range parents {
		if p.hooks != 1 || p.doneAsked {
			t.Errorf("connection %d: %d registrations on its context (want 1), Done asked for: %v", i, p.hooks, p.doneAsked)
		}
	}
}

// A request whose context never ends is not watched, on an exchange's
// context as on any other (the HTTP/1 client asked its Done channel
// before; the watch now asks for it only of a context without AfterFunc).
func TestWatchSkipsAContextThatNeverEnds(t *testing.T) {
	x := &exchange{local: true}
	x.ctx = &exchangeCtx{Context: context.Background(), x: x}
	for _, ctx := range []context.Context{x.ctx, context.Background()} {
		if stop := watchContext(ctx, func() {}); stop != nil {
			t.Errorf("%T over a context that never ends is watched", ctx)
		}
	}
}

// A context derived from an exchange's (a deadline's, a dial's) over a
// connection context registers with the connection context's AfterFunc,
// as it would be a child of a *cancelCtx: without the exchange's context
// passing AfterFunc on, the context package would watch the parent from
// a goroutine of its own, one per derived context.
func TestContextDerivedFromAnExchangeRegistersWithTheConnection(t *testing.T) {
	parent := &hookCtx{Context: context.Background(), done: make(chan struct{}), stop: func() bool { return true }}
	x := &exchange{local: true}
	x.ctx = &exchangeCtx{Context: parent, x: x}
	_, cancel := context.WithTimeout(x.ctx, time.Hour)
	defer cancel()
	if parent.hooks != 1 {
		t.Errorf("%d registrations on the connection context, want 1", parent.hooks)
	}
}

// lateCtx is a watchable connection context that ended and took its
// watcher for a call that has not run yet (a goroutine not yet
// scheduled): Unwatch can no longer keep it from coming.
type lateCtx struct {
	hookCtx
	taken interface{ ContextDone() }
}

func (c *lateCtx) Watch(w interface{ ContextDone() }) { c.taken = w }

func (c *lateCtx) Unwatch(interface{ ContextDone() }) bool { return false }

// An exchange whose connection context may still call its watch late
// is not pooled: the late call would abort the request of the next
// connection the exchange served.
func TestExchangeWithALateWatchCallIsNotPooled(t *testing.T) {
	for _, late := range []bool{false, true} {
		var pool sync.Pool
		x := &exchange{local: true, reusable: true, home: &pool}
		parent := &lateCtx{hookCtx: hookCtx{Context: context.Background()}}
		x.ctx = &exchangeCtx{Context: parent, x: x}
		if stop := watchContext(x.ctx, func() {}); stop == nil || !stop() {
			t.Fatal("no stop that stops the watch")
		}
		if !late {
			parent.taken.ContextDone() // the call came before the release
		}
		x.Release()
		pooled := pool.Get() == x
		switch {
		case late && pooled:
			t.Error("pooled with a late call of its watch pending")
		case !late && !pooled && !racetest.Enabled: // under -race, a Pool drops some of what it is given
			t.Error("not pooled, with no call of its watch pending")
		}
	}
}

// watchAllocs is the allocations of a watch for a client gone per
// connection of x, each with its own context from parents (one more than
// AllocsPerRun's runs, for its warm-up): registered, stopped, released.
func watchAllocs(t *testing.T, x *exchange, parents []context.Context) float64 {
	t.Helper()
	ctxs := make([]*exchangeCtx, len(parents))
	for i, p := range parents {
		ctxs[i] = &exchangeCtx{Context: p, x: x}
	}
	n := 0
	abort := func() {}
	return testing.AllocsPerRun(len(parents)-1, func() {
		x.ctx = ctxs[n]
		if stop := watchContext(x.ctx, abort); stop == nil || !stop() {
			t.Fatal("no stop that stops the watch")
		}
		x.Release()
		n++
	})
}
