package router

import (
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
	// removed are the listed upstreams in force that the snapshot no
	// longer has; tombstones are the slots they leave free.
	removed    []string
	tombstones []int
	// index numbers the upstreams: the one in force, or a copy of it
	// without the removed upstreams and with the new ones at free slots.
	index *cowMap[int]
	slots int       // the length of a runtime list numbered by index
	free  *freeSlot // the slots below it that index leaves free
	refs  *cowMap[int]
}

// listChanges sorts out s.Changes, or says they cannot be used: s does not
// say what differs from the snapshot in force, or a listed name is in s
// twice, or an unlisted host may still route to a removed upstream, which
// the comparison of every host handles (it refuses the one and recompiles
// the routes to the other).
func (ru *reuse) listChanges(s *snapshot.Snapshot) (*listedChanges, bool) {
	ch := s.Changes
	if ch == nil || ch.Base == 0 || ch.Base != ru.snap.Version {
		return nil, false
	}
	l := &listedChanges{hosts: uniqueNames(ch.Hosts), index: ru.index, slots: ru.upstreams.len(), free: ru.free}
	for _, name := range l.hosts {
		if _, ok, twice := s.FindHost(name); ok && twice {
			return nil, false
		}
	}
	var added []string
	for _, name := range uniqueNames(ch.Upstreams) {
		u, inNext, twice := s.FindUpstream(name)
		inForce := ru.index.has(name)
		switch {
		case twice:
			return nil, false
		case inForce && !inNext:
			l.removed = append(l.removed, name)
		case !inNext:
		case !inForce:
			added = append(added, name)
			l.upstreams = append(l.upstreams, u)
		case !ru.sameAsInForce(u):
			l.upstreams = append(l.upstreams, u)
		}
	}
	refs, ok := ru.listedRefs(s, l)
	if !ok {
		return nil, false
	}
	l.refs = refs
	l.renumber(added)
	return l, true
}

// renumber takes the removed upstreams out of the index, their slots
// free, and numbers the added ones: a free slot first, else one after
// every slot. A slot freed here may be taken at once: nothing compiled
// in the table that stays routes to it (see listedRefs), and a request
// under way keeps the runtimes of the state it started with.
func (l *listedChanges) renumber(added []string) {
	if len(added) == 0 && len(l.removed) == 0 {
		return
	}
	index := l.index.copyOnWrite()
	l.index = &index
	for _, name := range l.removed {
		slot, _ := l.index.lookup(name)
		l.index.delete(name)
		l.tombstones = append(l.tombstones, slot)
		l.free = &freeSlot{slot: slot, next: l.free}
	}
	for _, name := range added {
		slot := l.slots
		if l.free != nil {
			slot, l.free = l.free.slot, l.free.next
		} else {
			l.slots++
		}
		l.index.set(name, slot)
	}
}

// listedRefs are the references to upstreams of the hosts after the
// listed ones changed, or false when a removed upstream still has some:
// a host s did not list routes to it.
func (ru *reuse) listedRefs(s *snapshot.Snapshot, l *listedChanges) (*cowMap[int], bool) {
	if len(l.hosts) == 0 && len(l.removed) == 0 && ru.refs != nil {
		return ru.refs, true
	}
	refs := ru.refsToPatch()
	for _, name := range l.hosts {
		if vh, ok, _ := ru.snap.FindHost(name); ok {
			countRefs(refs, vh.Routes, -1)
		}
		if vh, ok, _ := s.FindHost(name); ok {
			countRefs(refs, vh.Routes, 1)
		}
	}
	for _, name := range l.removed {
		if refs.has(name) {
			return nil, false
		}
	}
	return refs, true
}

// hostRefs counts the references of s's hosts to each upstream.
func hostRefs(s *snapshot.Snapshot) *cowMap[int] {
	refs := &cowMap[int]{}
	for _, vh := range s.AllHosts() {
		countRefs(refs, vh.Routes, 1)
	}
	return refs
}

// countRefs adds by to the count of every upstream routes name: as the
// route's upstream, a backend or a mirror. It counts every name a route
// could resolve, so a count of 0 (no entry) means no route can; the rest
// only sends an Apply to the comparison of every host.
func countRefs(refs *cowMap[int], routes []snapshot.Route, by int) {
	for i := range routes {
		r := &routes[i]
		addRef(refs, r.Upstream, by)
		for _, b := range r.Backends {
			addRef(refs, b.Upstream, by)
		}
		if r.Filters != nil {
			for _, name := range r.Filters.Mirrors {
				addRef(refs, name, by)
			}
		}
	}
}

func addRef(refs *cowMap[int], name string, by int) {
	if name == "" {
		return
	}
	switch n, _ := refs.lookup(name); {
	case n+by == 0:
		refs.delete(name)
	default:
		refs.set(name, n+by)
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
// and added again from s if s has it, unless s has the very Routes slice
// compiled already (a producer may list the hosts of an Ingress whose
// Secret alone changed).
func (ru *reuse) patchListed(s *snapshot.Snapshot, l *listedChanges, inForce *Table) (*Table, *cowMap[int], error) {
	t, c := ru.patchedTable(l.index, inForce)
	var added []*snapshot.VirtualHost
	for _, name := range l.hosts {
		before, had, _ := ru.snap.FindHost(name)
		after, inNext, _ := s.FindHost(name)
		if had && inNext && sameRoutes(before.Routes, after.Routes) {
			continue // listed, but the very routes compiled already
		}
		if had {
			c.removeHost(&t.hosts, name)
		}
		if inNext {
			added = append(added, after)
		}
	}
	for _, vh := range added {
		if err := c.addHost(&t.hosts, vh, ""); err != nil {
			return nil, nil, err
		}
	}
	// Upstreams kept their slots unless one was removed, whose slot
	// gateway routes may still name: they are compiled again.
	return ru.finishPatch(s, c, t, l.index, len(l.removed) == 0)
}

// listedUpstreams are the runtimes in force with those of the listed
// upstreams renewed and those of the removed ones dropped, their pools
// closed.
func (ru *reuse) listedUpstreams(r *Router, l *listedChanges) (slotList, error) {
	if len(l.upstreams) == 0 && len(l.removed) == 0 {
		return ru.upstreams, nil
	}
	out := ru.upstreams.writer(l.slots)
	for _, slot := range l.tombstones {
		out.set(slot, nil) // unless an added upstream took it again
	}
	return r.renewUpstreams(out, l.upstreams, l.removed, l.index)
}

// uniqueNames is names sorted, each once, in a new slice: a snapshot's
// Changes are never written.
func uniqueNames(names []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(names)))
}
