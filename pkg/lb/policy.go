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

func newSelector(policy Policy, weights []int64) selector {
	switch policy {
	case Weighted:
		return newSmoothWeighted(weights)
	case LeastRequest:
		s := &leastRequest{}
		s.seed()
		return s
	default:
		s := &roundRobin{}
		s.seed()
		return s
	}
}

// rotation is a shared atomic counter. It starts at a random value because
// every Update builds new pools: starting at zero would send the first
// request after each swap to the first backend, skewing load under
// frequent endpoint churn.
type rotation struct{ next atomic.Uint64 }

func (r *rotation) seed() { r.next.Store(rand.Uint64()) }

func (r *rotation) start(n int) int {
	return int((r.next.Add(1) - 1) % uint64(n))
}

// roundRobin walks the backends in order, skipping those the filter
// rejects. Lock-free; a skipped backend's turn goes to the next one.
type roundRobin struct{ rotation }

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
type leastRequest struct{ rotation }

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

func newSmoothWeighted(weights []int64) *smoothWeighted {
	return &smoothWeighted{weights: weights, current: make([]int64, len(weights))}
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
