package router

import (
	"strconv"
	"sync"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// noUpstream is Match.Upstream of a route whose backends all weigh 0, or
// of the share of an invalid backend: it has nowhere to send the request
// and answers 500, as Gateway API asks.
const noUpstream = -1

// splitter spreads a route's requests over its weighted backends with
// smooth weighted round robin (nginx's, as lb does for endpoints): 70/30
// gives a a b a a b a a b a, interleaved rather than in runs, and exact
// over every cycle of the total weight rather than only on average.
type splitter struct {
	mu       sync.Mutex
	upstream []int    // index in the snapshot's Upstreams, per backend
	names    []string // upstream names, to carry state across snapshots
	weights  []int64
	current  []int64
	total    int64
}

func (s *splitter) next() int {
	s.mu.Lock()
	best := 0
	for i, w := range s.weights {
		s.current[i] += w
		if s.current[i] > s.current[best] {
			best = i
		}
	}
	s.current[best] -= s.total
	s.mu.Unlock()
	return s.upstream[best]
}

// compileBackends sets m.Upstream, or c.split when the route has more
// than one backend to choose from. Backends of weight 0 never get a
// request, so they are left out.
func compileBackends(r *snapshot.Route, c *candidate, index *cowMap[int]) error {
	s := &splitter{}
	for _, b := range r.Backends {
		i, ok := index.lookup(b.Upstream)
		if b.Invalid {
			i, ok = noUpstream, true
		}
		if !ok {
			return errUnknownUpstream(b.Upstream)
		}
		if b.Weight > 0 {
			s.upstream = append(s.upstream, i)
			s.names = append(s.names, b.Upstream)
			s.weights = append(s.weights, int64(b.Weight))
			s.total += int64(b.Weight)
		}
	}
	switch len(s.upstream) {
	case 0:
		c.match.Upstream = noUpstream
	case 1:
		c.match.Upstream = s.upstream[0]
	default:
		s.current = make([]int64, len(s.upstream))
		c.split = s
	}
	return nil
}

// splitters are a table's splitters, so that the next table continues
// each route's rotation: snapshots are rebuilt on every EndpointSlice
// change, and a rotation restarted each time would send most requests to
// the heaviest backend, which every rotation starts with. They are
// grouped by the host whose routes they split (see splitGroup), in a
// copy-on-write map: a table patched from the one in force replaces or
// drops the groups of the hosts it compiles or removes and shares the
// others, so that its cost follows the change, not the number of
// weighted routes (issue 10).
type splitters = cowMap[routeSplitters]

// routeSplitters are one host's splitters by splitKey.
type routeSplitters map[string]*splitter

// defaultSplitGroup is the default backend's group: no host name has a NUL.
const defaultSplitGroup = "\x00default"

// splitGroup names the group of a host's splitters: its name on the
// Ingress side (no string to build per host), scoped on a gateway port.
func splitGroup(scope, host string) string {
	if scope == "" {
		return host
	}
	return scope + "\x00" + host
}

// splitKey names a route across snapshots: where it is served and what
// the producer says it is.
func splitKey(scope, host string, r *snapshot.Route) string {
	return scope + "\x00" + host + "\x00" + r.Source + "\x00" + r.PathType.String() + r.Path + "\x00" +
		r.Method + "\x00" + strconv.Itoa(r.Order)
}

// carry starts s from where the same route's splitter in prev (nil:
// none) stood, for the backends both have (by upstream name).
func carry(prev *splitters, group, key string, s *splitter) {
	if prev == nil {
		return
	}
	splits, _ := prev.lookup(group)
	old := splits[key]
	if old == nil {
		return
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	for i, name := range s.names {
		for j, oldName := range old.names {
			if name == oldName {
				s.current[i] = old.current[j]
			}
		}
	}
	recentre(s.current)
}

// recentre subtracts the mean: smooth round robin keeps the sum of current
// values constant and picks the largest, so a uniform shift changes no
// pick; it stops what removed backends leave from building up.
func recentre(current []int64) {
	var sum int64
	for _, c := range current {
		sum += c
	}
	mean := sum / int64(len(current))
	for i := range current {
		current[i] -= mean
	}
}
