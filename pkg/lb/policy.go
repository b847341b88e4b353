package lb

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// selector is one selection policy. pick returns a backend f allows, or nil
// when there is none. backends is the pool's, never empty, never modified.
type selector interface {
	pick(backends []*Backend, f filter) *Backend
}

var (
	_ selector = (*roundRobin)(nil)
	_ selector = (*smoothWeighted)(nil)
	_ selector = (*leastRequest)(nil)
)

// newSelector returns the selector of a pool built from backends, carrying
// on from prev, the selector of the same pool in the previous
// configuration (nil for a new pool). A pool is rebuilt for every snapshot,
// which under endpoint churn can be every few requests: restarting the
// rotation each time would turn round robin into random picks and make a
// smooth weighted pool start over with its heaviest backend, so a 99:1
// canary would never reach its light backend.
func newSelector(policy Policy, backends []*Backend, weights []int64, prev *Pool) selector {
	switch policy {
	case Weighted:
		return newSmoothWeighted(backends, weights, prev)
	case LeastRequest:
		return &leastRequest{rotation: inheritRotation(prev)}
	default:
		return &roundRobin{rotation: inheritRotation(prev)}
	}
}

// rotation is an atomic counter shared by every generation of one pool, so
// round robin (and least request's tie-breaking) continues across swaps
// instead of restarting. A new pool starts at a random value: starting at
// zero would send the first request of every new pool to its first backend.
type rotation struct{ next atomic.Uint64 }

func newRotation() *rotation {
	r := &rotation{}
	r.next.Store(rand.Uint64())
	return r
}

// inheritRotation returns prev's counter when prev has one.
func inheritRotation(prev *Pool) *rotation {
	if prev != nil {
		if r, ok := prev.sel.(interface{ counter() *rotation }); ok {
			return r.counter()
		}
	}
	return newRotation()
}

func (r *rotation) counter() *rotation { return r }

func (r *rotation) start(n int) int {
	return int((r.next.Add(1) - 1) % uint64(n))
}

// roundRobin walks the backends in order, skipping those the filter
// rejects. Lock-free; a skipped backend's turn goes to the next one.
type roundRobin struct{ *rotation }

func (s *roundRobin) pick(backends []*Backend, f filter) *Backend {
	i := s.start(len(backends))
	for range backends {
		if b := backends[i]; f.allows(b) {
			return b
		}
		i = wrap(i+1, len(backends))
	}
	return nil
}

// wrap keeps a rotating index in range without a division, which would
// dominate a scan of a large pool.
func wrap(i, n int) int {
	if i == n {
		return 0
	}
	return i
}

// leastRequest picks the allowed backend with the fewest requests in
// flight. The scan starts at a rotating offset and only a strictly smaller
// count displaces the best so far, so ties (an idle pool) spread round
// robin instead of piling onto the first backend. O(n) per pick.
type leastRequest struct{ *rotation }

func (s *leastRequest) pick(backends []*Backend, f filter) *Backend {
	i := s.start(len(backends))
	var best *Backend
	var fewest int64
	for range backends {
		b := backends[i]
		i = wrap(i+1, len(backends))
		if !f.allows(b) {
			continue
		}
		if v := b.Inflight(); best == nil || v < fewest {
			best, fewest = b, v
		}
	}
	return best
}

// smoothWeighted is nginx's smooth weighted round robin: each pick adds
// every allowed backend's weight to its current value, takes the largest,
// and subtracts the total from it. Weights 5,1,1 give a a b a c a a: the
// heavy backend is interleaved rather than sent five requests in a row.
// Rejected backends sit the round out, as nginx skips down peers.
type smoothWeighted struct {
	mu      sync.Mutex
	weights []int64
	current []int64
}

func newSmoothWeighted(backends []*Backend, weights []int64, prev *Pool) *smoothWeighted {
	s := &smoothWeighted{weights: weights, current: make([]int64, len(weights))}
	if prev != nil {
		if old, ok := prev.sel.(*smoothWeighted); ok {
			s.carry(backends, prev.backends, old)
		}
	}
	return s
}

// carry starts every backend that was in the previous pool from its
// current weight there, matched by identity (the Registry keeps one Backend
// per address), so a reordered or partly changed pool continues the
// interleaving; new backends start at zero, as nginx starts every peer.
// Picks the old pool still makes for requests in flight are not carried
// over; they are a handful of retries.
func (s *smoothWeighted) carry(backends, oldBackends []*Backend, old *smoothWeighted) {
	index := make(map[*Backend]int, len(oldBackends))
	for i, b := range oldBackends {
		index[b] = i
	}
	old.mu.Lock()
	for i, b := range backends {
		if j, ok := index[b]; ok {
			s.current[i] = old.current[j]
		}
	}
	old.mu.Unlock()
	s.recentre()
}

// recentre subtracts the mean current weight from every backend. The
// smooth algorithm keeps the sum of current weights constant and picks the
// largest, so a uniform shift changes no pick; it only stops the sum left
// by removed backends from building up over many swaps.
func (s *smoothWeighted) recentre() {
	if len(s.current) == 0 {
		return
	}
	var sum int64
	for _, c := range s.current {
		sum += c
	}
	mean := sum / int64(len(s.current))
	for i := range s.current {
		s.current[i] -= mean
	}
}

func (s *smoothWeighted) pick(backends []*Backend, f filter) *Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := -1
	var total int64
	for i, b := range backends {
		if !f.allows(b) {
			continue
		}
		s.current[i] += s.weights[i]
		total += s.weights[i]
		if best < 0 || s.current[i] > s.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	s.current[best] -= total
	return backends[best]
}
