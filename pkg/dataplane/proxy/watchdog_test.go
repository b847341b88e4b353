package proxy

import (
	"testing"
	"time"
)

type closeCounter chan struct{}

func (c closeCounter) Close() error {
	c <- struct{}{}
	return nil
}

func closedWithin(c closeCounter, d time.Duration) bool {
	select {
	case <-c:
		return true
	case <-time.After(d):
		return false
	}
}

// A watch that needs the timer sooner than it is set moves it earlier;
// one that needs it later leaves it, and the timer sleeps again on waking.
func TestWatchdogWakesForTheNearestDeadline(t *testing.T) {
	var dogs watchdogs
	closed := make(closeCounter, 1)
	w := dogs.get(nil, closed)
	defer dogs.put(w)
	w.watch(upstreamRead, time.Hour)
	w.watch(upstreamRead, 50*time.Millisecond)
	if !closedWithin(closed, 5*time.Second) || w.expiredOn() != upstreamRead {
		t.Fatalf("a 50ms watch after a 1h one did not expire (expired %v)", w.expiredOn())
	}
	w2 := dogs.get(nil, closed)
	defer dogs.put(w2)
	w2.watch(tunnelIdle, 50*time.Millisecond)
	w2.watch(tunnelIdle, 300*time.Millisecond) // progress: the deadline moves on
	if closedWithin(closed, 150*time.Millisecond) {
		t.Fatal("expired at the deadline that progress replaced")
	}
	if !closedWithin(closed, 5*time.Second) {
		t.Fatal("the later deadline never expired")
	}
}

// A pooled watchdog's pending timer must not break what its next user
// watches: it wakes, finds a later deadline, and sleeps again.
func TestRecycledWatchdogIgnoresItsFormerDeadline(t *testing.T) {
	var dogs watchdogs
	first, second := make(closeCounter, 1), make(closeCounter, 1)
	w := newWatchdog()
	w.closer = first
	w.watch(upstreamRead, 30*time.Millisecond)
	w.rest()
	dogs.put(w)
	w = dogs.get(nil, second) // most likely the same one
	defer dogs.put(w)
	w.watch(upstreamRead, time.Hour)
	if closedWithin(first, 200*time.Millisecond) || closedWithin(second, 0) {
		t.Fatal("the former deadline broke something")
	}
	if w.expiredOn() != noStall {
		t.Fatalf("expired %v", w.expiredOn())
	}
}

// A watch expires no earlier than its timeout after it began, however the
// deadline is kept (monoclock nanoseconds since issue 14), and not much
// later either.
func TestWatchdogExpiresNeitherEarlyNorLate(t *testing.T) {
	const d = 40 * time.Millisecond
	var dogs watchdogs
	for _, s := range []stall{upstreamRead, tunnelIdle} {
		closed := make(closeCounter, 1)
		w := dogs.get(nil, closed)
		w.watch(s, time.Hour) // the timer set far: the next watch must move it
		start := time.Now()
		w.watch(s, d)
		if !closedWithin(closed, 5*time.Second) {
			t.Fatalf("%v: a %v watch did not expire within 5s", s, d)
		}
		if took := time.Since(start); took < d {
			t.Fatalf("%v: a %v watch expired after %v", s, d, took)
		}
		if w.expiredOn() != s {
			t.Fatalf("expired %v, want %v", w.expiredOn(), s)
		}
		dogs.put(w)
	}
}
