package router

import (
	"maps"
	"slices"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// listedChanges is what a snapshot's Changes list, sorted out against the
// snapshot in force: Apply compiles those hosts and upstreams alone, so
// that its work follows the change, not the number of hosts (a walk over
// 30,000 of them to find the one that differs cost more than compiling it).
type listedChanges struct {
	hosts []string // listed names, each once
	// upstreams are the listed upstreams of the snapshot that are new or
	// differ from the ones in force.
	upstreams []*snapshot.Upstream
	// index numbers the upstreams: the one in force, or a copy of it with
	// the new upstreams at new slots.
	index map[string]int
	slots int // the length of a runtime list numbered by index
}

// listChanges sorts out s.Changes, or says they cannot be used: s does not
// say what differs from the snapshot in force, or a listed name is in s
// twice or an upstream is removed, which the comparison of every host
// handles (it refuses the one and recompiles the routes to the other).
func (ru *reuse) listChanges(s *snapshot.Snapshot) (*listedChanges, bool) {
	ch := s.Changes
	if ch == nil || ch.Base == 0 || ch.Base != ru.snap.Version {
		return nil, false
	}
	l := &listedChanges{hosts: uniqueNames(ch.Hosts), index: ru.index, slots: ru.upstreams.len()}
	for _, name := range l.hosts {
		if _, ok, twice := s.FindHost(name); ok && twice {
			return nil, false
		}
	}
	var added []string
	for _, name := range uniqueNames(ch.Upstreams) {
		u, inNext, twice := s.FindUpstream(name)
		_, inForce := ru.index[name]
		switch {
		case twice || inForce && !inNext:
			return nil, false
		case !inNext:
		case !inForce:
			added = append(added, name)
			l.upstreams = append(l.upstreams, u)
		case !ru.sameAsInForce(u):
			l.upstreams = append(l.upstreams, u)
		}
	}
	l.addSlots(added)
	return l, true
}

// addSlots numbers the added upstreams after every slot in use.
func (l *listedChanges) addSlots(added []string) {
	if len(added) == 0 {
		return
	}
	l.index = maps.Clone(l.index)
	for _, name := range added {
		l.index[name] = l.slots
		l.slots++
	}
}

// sameAsInForce tells whether u is equal to the upstream of its name in
// force, which keeps its runtime and pool.
func (ru *reuse) sameAsInForce(u *snapshot.Upstream) bool {
	prev, ok, _ := ru.snap.FindUpstream(u.Name)
	return ok && sameUpstream(prev, u)
}

// patchListed compiles the listed hosts of s into a copy-on-write copy of
// the table in force: a listed host the snapshot in force has is removed,
// and added again from s if s has it.
func (ru *reuse) patchListed(s *snapshot.Snapshot, l *listedChanges, inForce *Table) (*Table, map[string]int, error) {
	t, c := ru.patchedTable(l.index, inForce)
	for _, name := range l.hosts {
		if _, ok, _ := ru.snap.FindHost(name); ok {
			t.hosts.removeHost(name)
		}
	}
	for _, name := range l.hosts {
		if vh, ok, _ := s.FindHost(name); ok {
			if err := c.addHost(&t.hosts, vh, ""); err != nil {
				return nil, nil, err
			}
		}
	}
	return ru.finishPatch(s, c, t, l.index, true) // added upstreams take new slots
}

// listedUpstreams are the runtimes in force with those of the listed
// upstreams renewed.
func (ru *reuse) listedUpstreams(r *Router, l *listedChanges) (slotList, error) {
	if len(l.upstreams) == 0 {
		return ru.upstreams, nil
	}
	return r.renewUpstreams(ru.upstreams.writer(l.slots), l.upstreams, nil, l.index)
}

// uniqueNames is names sorted, each once, in a new slice: a snapshot's
// Changes are never written.
func uniqueNames(names []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(names)))
}
