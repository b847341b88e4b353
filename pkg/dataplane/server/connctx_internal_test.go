package server

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// newTestH1conn is an h1conn on the server end of a loopback connection,
// of a Server whose base context is base.
func newTestH1conn(t *testing.T, base context.Context) (*Server, *h1conn) {
	t.Helper()
	server, _ := tcpPair(t)
	s := &Server{base: base}
	return s, s.newH1conn(&bound{}, server, connValues{Context: base, local: server.LocalAddr()})
}

// A connection's context and the request reused on it are the
// connection's own: newH1conn allocates the h1conn and the client's
// address string, nothing more (five before issue 14's context work: a
// context.WithCancel's two, the request WithContext made).
func TestNewH1connAllocatesTheConnectionAndItsAddress(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	server, _ := tcpPair(t)
	s := &Server{base: context.Background()}
	b := &bound{}
	base := connValues{Context: s.base, local: server.LocalAddr()}
	var c *h1conn
	if allocs := testing.AllocsPerRun(100, func() { c = s.newH1conn(b, server, base) }); allocs > 2 {
		t.Errorf("%.0f allocations per connection, want 2", allocs)
	}
	if c.req.Context().Value(http.LocalAddrContextKey) != server.LocalAddr() {
		t.Error("the request does not carry the connection's context and values")
	}
}

// A watch registered on the connection's context (the proxy's, for a
// client gone) costs its stop function, and no Done channel.
func TestConnCtxAfterFuncAllocatesItsStopOnly(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	server, _ := tcpPair(t)
	s := &Server{base: context.Background()}
	conns := make([]*h1conn, 101) // AllocsPerRun's runs and its warm-up
	for i := range conns {
		conns[i] = s.newH1conn(&bound{}, server, connValues{Context: s.base})
	}
	f := func() {}
	n := 0
	allocs := testing.AllocsPerRun(len(conns)-1, func() {
		conns[n].ctx.AfterFunc(f)()
		n++
	})
	if allocs > 1 {
		t.Errorf("%.0f allocations for a watch, want 1", allocs)
	}
	if conns[0].ctx.done != nil {
		t.Error("a watch made the Done channel")
	}
}

// The proxy's watch for a client gone registers with Watch, which costs
// nothing: the watcher is its own key.
func TestConnCtxWatchAllocatesNothing(t *testing.T) {
	if testing.Short() || racetest.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	_, c := newTestH1conn(t, context.Background())
	w := &testWatcher{ran: make(chan struct{})}
	allocs := testing.AllocsPerRun(100, func() {
		c.ctx.Watch(w)
		if !c.ctx.Unwatch(w) {
			t.Fatal("Unwatch found no registration")
		}
	})
	if allocs != 0 || c.ctx.done != nil {
		t.Errorf("%.0f allocations for a watch (want none), Done channel made: %v", allocs, c.ctx.done != nil)
	}
}

type testWatcher struct{ ran chan struct{} }

func (w *testWatcher) ContextDone() { close(w.ran) }

// The connection's context behaves as context.WithCancel's: its end
// closes Done, runs what AfterFunc registered and was not stopped, and
// reaches contexts derived from it; what registers after it ended runs
// at once.
func TestConnCtxEndsAsACancelContext(t *testing.T) {
	_, c := newTestH1conn(t, context.Background())
	ctx := &c.ctx
	ran := make(chan string, 4)
	stopped := ctx.AfterFunc(func() { ran <- "stopped" })
	ctx.AfterFunc(func() { ran <- "kept" })
	unwatched, watched := &testWatcher{ran: make(chan struct{})}, &testWatcher{ran: make(chan struct{})}
	ctx.Watch(unwatched)
	ctx.Watch(watched)
	if !ctx.Unwatch(unwatched) || ctx.Unwatch(unwatched) {
		t.Error("Unwatch did not report true once, then false")
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	if !stopped() || stopped() {
		t.Error("stop did not report true once, then false")
	}
	if ctx.Err() != nil || child.Err() != nil {
		t.Fatal("ended before its cancel")
	}
	done := ctx.Done()
	c.cancel()
	within(t, done, "Done to close")
	within(t, child.Done(), "the derived context to end")
	within(t, watched.ran, "the watcher to be called")
	if got := <-ran; got != "kept" {
		t.Errorf("ran %q, want the registration not stopped", got)
	}
	if !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != context.Canceled {
		t.Errorf("Err %v, Cause %v; want context.Canceled", ctx.Err(), context.Cause(ctx))
	}
	ctx.AfterFunc(func() { ran <- "late" })
	if got := <-ran; got != "late" {
		t.Errorf("ran %q, want the late registration", got)
	}
	late := &testWatcher{ran: make(chan struct{})}
	ctx.Watch(late)
	within(t, late.ran, "a late watcher to be called")
	if len(ran) != 0 {
		t.Errorf("%q ran too", <-ran)
	}
	select {
	case <-unwatched.ran:
		t.Error("the watcher unwatched was called")
	default:
	}
}

// The Server's base context ending (Close) ends the contexts of the
// connections it serves, which do not watch it one by one: those in the
// connection set through it, one made after through their own check.
func TestServerBaseEndsConnectionContexts(t *testing.T) {
	base, stop := context.WithCancel(context.Background())
	s, c := newTestH1conn(t, base)
	s.served.add(c)
	defer s.served.remove(c)
	hook := make(chan struct{})
	c.ctx.AfterFunc(func() { close(hook) })
	w := &testWatcher{ran: make(chan struct{})}
	c.ctx.Watch(w)
	stop()
	within(t, hook, "the served connection's AfterFunc to run")
	within(t, w.ran, "the served connection's watcher to be called")
	within(t, c.ctx.Done(), "the served connection's context to end")
	_, late := newTestH1conn(t, base)
	within(t, late.ctx.Done(), "a connection made after the end to see it")
	if late.ctx.Err() == nil {
		t.Error("a connection made after the base ended has no Err")
	}
}

func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Under a Server's base, which is a context.WithCancel, a cancelled
// connection's context has the cause a cancelled context.WithCancel has,
// and so do contexts derived from it: context.Cause finds the innermost
// cancelCtx by a Value lookup that connCtx passes on to the base, still
// running, and must then fall back to connCtx's Err.
func TestConnCtxCauseUnderACancelableBase(t *testing.T) {
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	_, c := newTestH1conn(t, base)
	c.cancel()
	if err, cause := c.ctx.Err(), context.Cause(&c.ctx); err != context.Canceled || cause != context.Canceled {
		t.Errorf("Err %v, Cause %v; want context.Canceled for both", err, cause)
	}
	child, stop := context.WithTimeout(&c.ctx, time.Hour)
	defer stop()
	within(t, child.Done(), "the derived context to end")
	if cause := context.Cause(child); cause != context.Canceled {
		t.Errorf("derived context's Cause %v, want context.Canceled", cause)
	}
}
