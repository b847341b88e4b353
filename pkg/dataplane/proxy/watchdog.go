package proxy

import (
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// stall names the operation a watchdog waits on, and so what it breaks
// when that operation makes no progress in time.
type stall uint8

const (
	noStall      stall = iota
	clientBody         // reading the request body (nginx client_body_timeout)
	clientSend         // writing the response (nginx send_timeout)
	upstreamRead       // reading the upstream response body (proxy_read_timeout)
	tunnelIdle         // no bytes either way through a tunnel
)

// watchdog breaks an operation that made no progress for its timeout. One
// timer serves every operation watched: it is moved earlier only when an
// operation needs it sooner, and when it fires for a deadline that has
// since moved on it just sleeps again. So watching a read costs a clock
// read and an uncontended lock, not a timer per read. Times are
// monoclock.Nanos, so that a watch adds and compares integers instead of
// time.Times (each Add of those costs as much as the clock read).
//
// Breaking never happens under the watched goroutine's feet in a way it
// cannot see: it closes the upstream body or conn, or moves the client
// connection's deadline into the past, so the stalled call returns an
// error, and expired tells the caller why.
type watchdog struct {
	timer *time.Timer

	mu       sync.Mutex
	watching stall
	deadline int64 // when watching expires (monoclock.Nanos)
	wake     int64 // when the timer fires (monoclock.Nanos); 0 when it is stopped
	expired  stall // what expired, noStall if nothing did

	rw     http.ResponseWriter // clientBody, clientSend: its connection's deadlines
	closer io.Closer           // upstreamRead, tunnelIdle: closing it ends the stall
}

// newWatchdog returns a watchdog whose timer is created but not running.
func newWatchdog() *watchdog {
	w := &watchdog{}
	w.init()
	return w
}

// init readies a watchdog embedded in something already allocated.
func (w *watchdog) init() {
	w.timer = time.AfterFunc(math.MaxInt64, w.fire)
	w.timer.Stop()
}

// watchdogs recycles watchdogs, timers included, across requests.
type watchdogs struct{ pool sync.Pool }

func (ws *watchdogs) get(rw http.ResponseWriter, closer io.Closer) *watchdog {
	w, _ := ws.pool.Get().(*watchdog)
	if w == nil {
		w = newWatchdog()
	}
	w.lend(rw, closer)
	return w
}

// put returns w once nothing will watch with it any more. A pending timer
// fires into an idle watchdog and does nothing.
func (ws *watchdogs) put(w *watchdog) (stalled bool) {
	stalled = w.settle()
	ws.pool.Put(w)
	return stalled
}

// lend readies w to watch calls on rw and closer.
func (w *watchdog) lend(rw http.ResponseWriter, closer io.Closer) {
	w.mu.Lock()
	w.rw, w.closer = rw, closer
	w.mu.Unlock()
}

// settle ends w's watching once nothing will watch with it any more,
// and reports whether it broke a stall: its timer's function may still
// be breaking it.
func (w *watchdog) settle() (stalled bool) {
	w.mu.Lock()
	stalled = w.expired != noStall
	w.watching, w.expired, w.rw, w.closer = noStall, noStall, nil, nil
	w.mu.Unlock()
	return stalled
}

// watch starts (or restarts) watching s: it must make progress within d.
// A zero or negative d watches nothing. It returns the clock it read
// (monoclock.Nanos; 0 if it read none), for the caller's checks of now.
func (w *watchdog) watch(s stall, d time.Duration) (now int64) {
	if d <= 0 {
		w.rest()
		return 0
	}
	now = monoclock.Nanos()
	deadline := now + int64(d)
	w.mu.Lock()
	w.watching, w.deadline = s, deadline
	if w.wake == 0 || deadline < w.wake {
		w.wake = deadline
		w.timer.Reset(d)
	}
	w.mu.Unlock()
	return now
}

// rest stops watching until the next watch, and reports what expired,
// noStall if nothing did.
func (w *watchdog) rest() (expired stall) {
	w.mu.Lock()
	w.watching = noStall
	expired = w.expired
	w.mu.Unlock()
	return expired
}

// expiredOn reports what expired, noStall if nothing did.
func (w *watchdog) expiredOn() stall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.expired
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.watching == noStall {
		w.wake = 0
		w.mu.Unlock()
		return
	}
	if left := w.deadline - monoclock.Nanos(); left > 0 {
		w.wake = w.deadline
		w.timer.Reset(time.Duration(left))
		w.mu.Unlock()
		return
	}
	s, rw, closer := w.watching, w.rw, w.closer
	w.watching, w.expired, w.wake = noStall, s, 0
	w.mu.Unlock()
	breakStall(s, rw, closer)
}

// breakStall makes the stalled call return. A deadline in the past fails
// a blocked read or write on the client connection (HTTP/1) or resets the
// stream (HTTP/2); either way nothing more goes through it.
func breakStall(s stall, rw http.ResponseWriter, closer io.Closer) {
	past := time.Unix(1, 0)
	switch s {
	case clientBody:
		_ = http.NewResponseController(rw).SetReadDeadline(past)
	case clientSend:
		_ = http.NewResponseController(rw).SetWriteDeadline(past)
	case upstreamRead, tunnelIdle:
		_ = closer.Close()
	}
}
