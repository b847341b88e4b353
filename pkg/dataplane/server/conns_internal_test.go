package server

import (
	"slices"
	"testing"
)

// The connection set keeps each connection's index in it: removing one
// moves the last into its place, and the rest stay tracked.
func TestConnSetRemovesFromAnyPlace(t *testing.T) {
	var s connSet
	conns := []*h2conn{{}, {}, {}, {}}
	for _, c := range conns {
		s.add(c)
	}
	for _, gone := range []int{1, 3, 0} {
		s.remove(conns[gone])
		if conns[gone].i != 0 {
			t.Errorf("a removed connection keeps index %d", conns[gone].i)
		}
	}
	var left []served
	s.each(func(c served) { left = append(left, c) })
	if !slices.Equal(left, []served{conns[2]}) || s.n.Load() != 1 {
		t.Errorf("left %v (n %d), want only the third connection", left, s.n.Load())
	}
	s.add(conns[0])
	s.remove(conns[2])
	s.remove(conns[0])
	if len(s.all) != 0 || s.n.Load() != 0 {
		t.Errorf("%d connections left, n %d; want none", len(s.all), s.n.Load())
	}
}
