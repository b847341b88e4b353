package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// errStopped ends an accept loop after StopAccepting.
var errStopped = fmt.Errorf("server: stopped accepting: %w", net.ErrClosed)

type deadliner interface{ SetDeadline(time.Time) error }

// gate is what the accept loop accepts from. Stopping it makes Accept return
// without closing the socket: an accept deadline in the past wakes a
// blocked Accept, and no connection is taken off the kernel's queue, so
// whoever else holds the socket accepts every connection that arrives.
type gate struct {
	net.Listener
	stopped atomic.Bool
	// accepting is held while Accept runs, so that stop can wait until
	// this gate has surely stopped taking connections.
	accepting sync.Mutex
	// deferred: the kernel hands connections over once their first bytes
	// came (see deferAccept), so that their first read rarely waits.
	deferred bool
}

func newGate(l net.Listener) *gate {
	if d, ok := l.(deadliner); ok {
		// A predecessor in this process may have stopped on this very
		// listener and left its deadline behind.
		_ = d.SetDeadline(time.Time{})
	}
	deferred := deferAccept(l) // an inherited socket too: a predecessor may predate it
	return &gate{Listener: l, deferred: deferred}
}

func (g *gate) Accept() (net.Conn, error) {
	g.accepting.Lock()
	defer g.accepting.Unlock()
	for {
		if g.stopped.Load() {
			return nil, errStopped
		}
		c, err := g.Listener.Accept()
		if err == nil {
			// A connection can still win the race against the deadline
			// while stop waits for us: it is ours then, and serving it
			// is the only way not to lose it.
			return c, nil
		}
		if g.stopped.Load() {
			return nil, errStopped
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, err
		}
		// A deadline we did not set: a former owner of a shared listener
		// object stopped on it. It was not meant for us.
		_ = g.Listener.(deadliner).SetDeadline(time.Time{})
	}
}

// stop makes Accept return and waits until it has; from then on this gate
// takes no connection. It reports false if the listener cannot be
// interrupted without closing it (it has no SetDeadline).
func (g *gate) stop() bool {
	first := g.stopped.CompareAndSwap(false, true)
	d, ok := g.Listener.(deadliner)
	if !ok {
		return false
	}
	if first {
		_ = d.SetDeadline(time.Unix(1, 0))
	}
	g.accepting.Lock()
	g.accepting.Unlock() //nolint:staticcheck // an empty critical section: waiting is the point
	return true
}

// Close only stops accepting: the socket is the Server's to close (see
// release), not that of whoever closes the listener it was wrapped in.
func (g *gate) Close() error {
	g.stop()
	return nil
}

// owners counts the Servers in this process using each listener object, so
// that one handing a listener to another in-process does not close it
// under the other's feet. Across processes each holds its own descriptor.
var owners = struct {
	sync.Mutex
	n map[net.Listener]int
}{n: make(map[net.Listener]int)}

func acquire(l net.Listener) {
	owners.Lock()
	owners.n[l]++
	owners.Unlock()
}

// release closes l when no Server in this process uses it any more.
func release(l net.Listener) error {
	owners.Lock()
	owners.n[l]--
	last := owners.n[l] <= 0
	if last {
		delete(owners.n, l)
	}
	owners.Unlock()
	if !last {
		return nil
	}
	if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
