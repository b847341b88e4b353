package router

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
)

// reuse is what Apply compiled for the snapshot in force, kept so that the
// next Apply compiles only what differs: a producer that leaves a host's
// Routes slice as it was (the translate Cache does) gets the host's
// compiled routes back without a look at them, and unchanged upstreams
// keep their runtime without a call to the registry.
//
// Upstreams are numbered by slots that outlive snapshots (a name keeps its
// slot while it is in use; a free slot is taken again), not by their
// position in the snapshot: an upstream added or removed would otherwise
// shift the positions after it, and every host routing to those would have
// to be compiled again. The state's upstreams are indexed by slot.
type reuse struct {
	snap      *snapshot.Snapshot
	table     *Table
	index     map[string]int // slot of each upstream name
	upstreams []upstreamRuntime
	// full is set by compileTable when it compiled s in full, numbering
	// upstreams by position, for upstreamsOf to do the same.
	full bool
}

// compileTable is Compile(s), patching the previous table where s differs
// from the previous snapshot; inForce is the table in force, whose
// weighted rotations the new one continues. Gateways are compiled in full.
func (ru *reuse) compileTable(s *snapshot.Snapshot, inForce *Table) (*Table, map[string]int, error) {
	prev := ru.snap
	// The same snapshot again may have been modified in place since (tests
	// do it), so nothing of it can be trusted to be what was compiled.
	ru.full = prev == nil || prev == s || len(s.Gateways) > 0 || len(prev.Gateways) > 0
	if !ru.full && sameList(prev.Upstreams, s.Upstreams) {
		// The very list compiled last time: its names were checked and
		// numbered then, and looking at them again would cost a walk over
		// every upstream per change.
		return ru.patchTable(s, ru.index, nil, inForce)
	}
	index, err := upstreamIndex(s)
	if err != nil {
		return nil, nil, err
	}
	ru.full = ru.full || !slices.IsSortedFunc(s.Upstreams, func(a, b snapshot.Upstream) int { return strings.Compare(a.Name, b.Name) })
	if ru.full { // Patch merges pool settings in name order
		t, err := compileAfter(s, maxScannedPrefixes, inForce)
		return t, index, err
	}
	index = ru.slots(s)
	return ru.patchTable(s, index, shiftedUpstreams(ru.index, index), inForce)
}

// patchTable compiles the hosts of s that differ from the previous
// snapshot's (a new Routes slice, or routes to an upstream in shifted,
// whose slot moved) into a copy-on-write copy of the previous table.
func (ru *reuse) patchTable(s *snapshot.Snapshot, index map[string]int, shifted map[string]bool, inForce *Table) (*Table, map[string]int, error) {
	prev := ru.snap
	// Unchanged hosts keep their splitters; recompiled ones continue theirs.
	c := &compiler{index: index, scanLimit: maxScannedPrefixes, prev: inForce.splitters, next: maps.Clone(inForce.splitters)}
	old := &ru.table.hosts
	t := &Table{hosts: hostTable{exact: old.exact.copyOnWrite(), wildcard: old.wildcard.copyOnWrite(), catchAll: old.catchAll}, splitters: c.next}
	var added []*snapshot.VirtualHost
	i, j := 0, 0
	for i < len(prev.Hosts) || j < len(s.Hosts) {
		switch k := compareHosts(prev.Hosts, s.Hosts, i, j); {
		case k < 0:
			t.hosts.removeHost(prev.Hosts[i].Name)
			i++
		case k > 0:
			added = append(added, &s.Hosts[j])
			j++
		default:
			if !sameRoutes(prev.Hosts[i].Routes, s.Hosts[j].Routes) || usesAny(s.Hosts[j].Routes, shifted) {
				t.hosts.removeHost(prev.Hosts[i].Name)
				added = append(added, &s.Hosts[j])
			}
			i, j = i+1, j+1
		}
	}
	for _, vh := range added {
		if err := c.addHost(&t.hosts, vh, ""); err != nil {
			return nil, nil, err
		}
	}
	if s.DefaultBackend != nil {
		d, err := c.candidate(s.DefaultBackend, "", "")
		if err != nil {
			t, err := Compile(s) // for Compile's error message
			return t, index, err
		}
		t.defaultBkd = &d
	}
	return t, index, nil
}

// slots numbers s's upstreams: the slot each had, else a free one.
func (ru *reuse) slots(s *snapshot.Snapshot) map[string]int {
	index := make(map[string]int, len(s.Upstreams))
	used := make([]bool, len(ru.upstreams)+len(s.Upstreams))
	var fresh []string
	for i := range s.Upstreams {
		name := s.Upstreams[i].Name
		if slot, ok := ru.index[name]; ok {
			index[name], used[slot] = slot, true
		} else {
			fresh = append(fresh, name)
		}
	}
	next := 0
	for _, name := range fresh {
		for used[next] {
			next++
		}
		index[name], used[next] = next, true
	}
	return index
}

// commit remembers what was published.
func (ru *reuse) commit(s *snapshot.Snapshot, t *Table, index map[string]int, ups []upstreamRuntime) {
	ru.snap, ru.table, ru.index, ru.upstreams = s, t, index, ups
}

func upstreamIndex(s *snapshot.Snapshot) (map[string]int, error) {
	index := make(map[string]int, len(s.Upstreams))
	for i, u := range s.Upstreams {
		if _, dup := index[u.Name]; dup {
			_, err := Compile(s) // the same refusal, worded once
			return nil, err
		}
		index[u.Name] = i
	}
	return index, nil
}

// shiftedUpstreams are the upstreams whose index changed, or nil when
// none did, so most calls skip looking at routes for them.
// A removed upstream counts as shifted, so that a route still naming it is
// refused as Compile would refuse it.
func shiftedUpstreams(prev, next map[string]int) map[string]bool {
	var shifted map[string]bool
	for name, j := range prev {
		if i, ok := next[name]; !ok || i != j {
			if shifted == nil {
				shifted = map[string]bool{}
			}
			shifted[name] = true
		}
	}
	return shifted
}

func usesAny(routes []snapshot.Route, names map[string]bool) bool {
	if names == nil {
		return false
	}
	for i := range routes {
		if names[routes[i].Upstream] {
			return true
		}
		for _, b := range routes[i].Backends {
			if names[b.Upstream] {
				return true
			}
		}
	}
	return false
}

// compareHosts orders the i-th of a and the j-th of b, either past its end
// counting as greater.
func compareHosts(a, b []snapshot.VirtualHost, i, j int) int {
	switch {
	case i >= len(a):
		return 1
	case j >= len(b):
		return -1
	}
	return strings.Compare(a[i].Name, b[j].Name)
}

// sameRoutes tells whether b is a's very slice: the producer's promise
// that nothing in it changed. A snapshot's routes are never modified.
func sameRoutes(a, b []snapshot.Route) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// removeHost undoes addHost for a host of the previous snapshot.
func (t *hostTable) removeHost(name string) {
	if name == "" {
		t.catchAll = nil
		return
	}
	n, err := normaliseHostName(name)
	if err != nil {
		return // it was never added
	}
	if suffix, ok := strings.CutPrefix(n, "*."); ok {
		t.wildcard.delete(suffix)
		return
	}
	t.exact.delete(n)
}

// sameUpstream tells whether a compiles to what b did. A producer shares
// the slices of an unchanged upstream, so a shallow look (slices and
// pointers by identity) settles most; DeepEqual, which allocates, only
// looks at the rest.
func sameUpstream(a, b *snapshot.Upstream) bool {
	return shallowEqual(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()) || reflect.DeepEqual(a, b)
}

// shallowEqual compares a and b field by field, slices, maps and pointers
// by identity; false may only mean "not known to be equal".
func shallowEqual(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if !shallowEqual(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		return a.Len() == b.Len() && (a.Len() == 0 || a.Pointer() == b.Pointer())
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	}
	return false // arrays, interfaces, complex numbers: ask DeepEqual
}

// upstreamsOf returns the runtimes of s's upstreams: the previous
// runtime (pool included) of an upstream equal to the previous snapshot's,
// a new one for the others, whose pools alone the registry rebuilds.
func (ru *reuse) upstreamsOf(r *Router, s *snapshot.Snapshot, index map[string]int) ([]upstreamRuntime, error) {
	if ru.full {
		return r.upstreams(s)
	}
	if sameList(ru.snap.Upstreams, s.Upstreams) {
		return ru.upstreams, nil // the producer's promise: the very same list, numbered as before
	}
	size := 0
	for _, slot := range index {
		size = max(size, slot+1)
	}
	out := make([]upstreamRuntime, size)
	var changed []lb.PoolConfig
	for i := range s.Upstreams {
		u := &s.Upstreams[i]
		slot := index[u.Name]
		if old, ok := ru.previous(u.Name); ok && sameUpstream(old, u) {
			out[slot] = ru.upstreams[ru.index[u.Name]]
			continue
		}
		rt, err := r.runtimeOf(u, r.caPools)
		if err != nil {
			return nil, err
		}
		out[slot] = rt
		changed = append(changed, poolConfig(u))
	}
	var removed []string
	for name := range ru.index {
		if _, ok := index[name]; !ok {
			removed = append(removed, name)
		}
	}
	if len(changed) == 0 && len(removed) == 0 {
		return out, nil
	}
	pools := r.registry.Patch(changed, removed)
	for i := range out {
		if out[i].name != "" {
			out[i].pool = pools[out[i].name]
		}
	}
	return out, nil
}

// previous is the previous snapshot's upstream called name, found by
// binary search: a snapshot's upstreams are sorted by name.
func (ru *reuse) previous(name string) (*snapshot.Upstream, bool) {
	ups := ru.snap.Upstreams
	i, ok := slices.BinarySearchFunc(ups, name, func(u snapshot.Upstream, n string) int { return strings.Compare(u.Name, n) })
	if !ok {
		return nil, false
	}
	return &ups[i], true
}

func sameList(a, b []snapshot.Upstream) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// certificates returns the certificates in force when s has the very same
// certificate list as the snapshot in force and an equal default one.
func (ru *reuse) certificates(s *snapshot.Snapshot, inForce *Certificates) (*Certificates, bool) {
	prev := ru.snap
	if ru.full || inForce == nil || len(prev.Certificates) != len(s.Certificates) ||
		len(s.Certificates) > 0 && &prev.Certificates[0] != &s.Certificates[0] ||
		!reflect.DeepEqual(prev.DefaultCertificate, s.DefaultCertificate) {
		return nil, false
	}
	return inForce, true
}
