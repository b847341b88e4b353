package router

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"unsafe"

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
	index     *cowMap[int] // slot of each upstream name
	upstreams slotList
	// free are the slots below upstreams.len() that no upstream holds.
	free *freeSlot
	// refs counts the references of the hosts in force to each upstream
	// name (see hostRefs), for an Apply of listed changes to tell that no
	// unlisted host still routes to an upstream it removes. Every Apply
	// updates them by the hosts it compiles.
	refs *cowMap[int]
	// full is set by compileTable when it compiled s in full, numbering
	// upstreams by position, for upstreamsOf to do the same.
	full bool
	// listed is set by compileTable when it compiled only what s's Changes
	// list, for upstreamsOf to do the same.
	listed *listedChanges
	// sorted: snap's upstreams are sorted by name; nextSorted is the same
	// for the snapshot being applied, committed with it.
	sorted, nextSorted bool
	// nextFree and nextRefs are free and refs for the snapshot being
	// applied, committed with it.
	nextFree *freeSlot
	nextRefs *cowMap[int]
}

// freeSlot is a stack of free slots, shared by the states that have it: a
// push or a pop makes a new top and leaves the rest alone.
type freeSlot struct {
	slot int
	next *freeSlot
}

// compileTable is Compile(s), patching the previous table where s differs
// from the previous snapshot; inForce is the table in force, whose
// weighted rotations the new one continues. Gateways are compiled apart
// from the hosts (see patchGateways), so that a snapshot with Gateways
// still patches its hosts and upstreams.
func (ru *reuse) compileTable(s *snapshot.Snapshot, inForce *Table) (*Table, *cowMap[int], error) {
	prev := ru.snap
	// The same snapshot again may have been modified in place since (tests
	// do it), so nothing of it can be trusted to be what was compiled.
	// Patching walks both upstream lists in name order, and Patch merges
	// pool settings in that order: unsorted lists are compiled in full.
	ru.full = prev == nil || prev == s || !ru.sorted
	ru.listed, ru.nextFree, ru.nextRefs = nil, nil, nil
	if err := s.CheckLists(); err != nil {
		return nil, nil, err
	}
	if !ru.full {
		if l, ok := ru.listChanges(s); ok {
			ru.listed, ru.nextSorted, ru.nextFree, ru.nextRefs = l, true, l.free, l.refs
			return ru.patchListed(s, l, inForce)
		}
	}
	if !ru.full && sameNames(prev, s) {
		// The names compiled last time, in the same order: checked and
		// numbered then, so neither is done again for every upstream.
		ru.nextSorted, ru.nextFree = true, ru.free
		return ru.patchTable(s, ru.index, nil, inForce)
	}
	index, err := upstreamIndex(s)
	if err != nil {
		return nil, nil, err
	}
	ru.nextSorted = slices.IsSortedFunc(s.UpstreamSlice(), func(a, b snapshot.Upstream) int { return strings.Compare(a.Name, b.Name) })
	ru.full = ru.full || !ru.nextSorted
	if ru.full {
		t, err := compileAfter(s, maxScannedPrefixes, inForce)
		if err == nil {
			ru.nextRefs = hostRefs(s)
		}
		return t, index, err
	}
	index, ru.nextFree = ru.slots(s)
	return ru.patchTable(s, index, shiftedUpstreams(ru.index, index), inForce)
}

// patchTable compiles the hosts of s that differ from the previous
// snapshot's (a new Routes slice, or routes to an upstream in shifted,
// whose slot moved) into a copy-on-write copy of the previous table.
func (ru *reuse) patchTable(s *snapshot.Snapshot, index *cowMap[int], shifted map[string]bool, inForce *Table) (*Table, *cowMap[int], error) {
	prev := ru.snap
	t, c := ru.patchedTable(index, inForce)
	refs := ru.refsToPatch()
	var added []*snapshot.VirtualHost
	before, after := prev.HostSlice(), s.HostSlice()
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch k := compareNamed(before, after, i, j, hostName); {
		case k < 0:
			c.removeHost(&t.hosts, before[i].Name)
			countRefs(refs, before[i].Routes, -1)
			i++
		case k > 0:
			added = append(added, &after[j])
			j++
		default:
			if !sameRoutes(before[i].Routes, after[j].Routes) || usesAny(after[j].Routes, shifted) {
				c.removeHost(&t.hosts, before[i].Name)
				countRefs(refs, before[i].Routes, -1)
				added = append(added, &after[j])
			}
			i, j = i+1, j+1
		}
	}
	for _, vh := range added {
		countRefs(refs, vh.Routes, 1)
		if err := c.addHost(&t.hosts, vh, ""); err != nil {
			return nil, nil, err
		}
	}
	ru.nextRefs = refs
	// Upstreams kept their slots only when index is the one in force.
	return ru.finishPatch(s, c, t, index, shifted == nil && index == ru.index)
}

// refsToPatch is a copy-on-write copy of the references of the hosts in
// force, counted now if they were not.
func (ru *reuse) refsToPatch() *cowMap[int] {
	if ru.refs == nil {
		return hostRefs(ru.snap)
	}
	refs := ru.refs.copyOnWrite()
	return &refs
}

// patchedTable is a copy-on-write copy of the table in force and the
// compiler that patches it.
func (ru *reuse) patchedTable(index *cowMap[int], inForce *Table) (*Table, *compiler) {
	// Unchanged hosts keep their splitters; recompiled ones continue theirs.
	old := &ru.table.hosts
	t := &Table{hosts: hostTable{exact: old.exact.copyOnWrite(), wildcard: old.wildcard.copyOnWrite(), catchAll: old.catchAll},
		splitters: inForce.splitters.copyOnWrite()}
	c := &compiler{index: index, scanLimit: maxScannedPrefixes, prev: &inForce.splitters, next: &t.splitters}
	return t, c
}

// finishPatch compiles s's default backend and gateways into the patched
// table t; slotsKept says every upstream in force kept its slot.
func (ru *reuse) finishPatch(s *snapshot.Snapshot, c *compiler, t *Table, index *cowMap[int], slotsKept bool) (*Table, *cowMap[int], error) {
	if err := ru.patchGateways(s, c, t, slotsKept); err != nil {
		return nil, nil, err
	}
	if s.DefaultBackend != nil {
		d, err := c.defaultBackend(s.DefaultBackend)
		if err != nil {
			t, err := Compile(s) // for Compile's error message
			return t, index, err
		}
		t.defaultBkd = &d
	} else {
		t.splitters.delete(defaultSplitGroup)
	}
	return t, index, nil
}

// patchGateways gives t the gateway tables in force when s has the very
// same Gateways slice (a producer's promise that none changed) and every
// upstream kept its slot, the slots their routes were compiled with;
// otherwise it compiles them, which costs the gateways' routes, not the
// Ingress hosts'.
func (ru *reuse) patchGateways(s *snapshot.Snapshot, c *compiler, t *Table, slotsKept bool) error {
	if slotsKept && sameGateways(ru.snap.Gateways, s.Gateways) {
		t.gwAddrs, t.gwPorts = ru.table.gwAddrs, ru.table.gwPorts
		return nil
	}
	for _, g := range ru.snap.Gateways { // their hosts may be gone
		for _, p := range g.Ports {
			for _, vh := range p.Hosts {
				t.splitters.delete(splitGroup(gatewayScope(&g, &p), vh.Name))
			}
		}
	}
	return c.addGateways(t, s.Gateways)
}

// sameGateways tells whether b is a's very slice.
func sameGateways(a, b []snapshot.Gateway) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// slots numbers s's upstreams: the slot each had, else a free one. free
// are the slots left free below the length of the runtime list (which
// never shrinks here: see slotCount).
func (ru *reuse) slots(s *snapshot.Snapshot) (index *cowMap[int], free *freeSlot) {
	index = &cowMap[int]{}
	used := make([]bool, ru.upstreams.len()+s.UpstreamCount())
	var fresh []string
	for _, u := range s.AllUpstreams() {
		name := u.Name
		if slot, ok := ru.index.lookup(name); ok {
			index.set(name, slot)
			used[slot] = true
		} else {
			fresh = append(fresh, name)
		}
	}
	next := 0
	for _, name := range fresh {
		for used[next] {
			next++
		}
		index.set(name, next)
		used[next] = true
	}
	size := ru.upstreams.len()
	if len(fresh) > 0 {
		size = max(size, next+1)
	}
	for slot := size - 1; slot >= 0; slot-- {
		if !used[slot] {
			free = &freeSlot{slot: slot, next: free}
		}
	}
	return index, free
}

// commit remembers what was published.
func (ru *reuse) commit(s *snapshot.Snapshot, t *Table, index *cowMap[int], ups slotList) {
	ru.snap, ru.table, ru.index, ru.upstreams, ru.sorted = s, t, index, ups, ru.nextSorted
	ru.free, ru.refs = ru.nextFree, ru.nextRefs
}

func upstreamIndex(s *snapshot.Snapshot) (*cowMap[int], error) {
	index := &cowMap[int]{}
	for i, u := range s.AllUpstreams() {
		if index.has(u.Name) {
			_, err := Compile(s) // the same refusal, worded once
			return nil, err
		}
		index.set(u.Name, i)
	}
	return index, nil
}

// shiftedUpstreams are the upstreams whose index changed, or nil when
// none did, so most calls skip looking at routes for them.
// A removed upstream counts as shifted, so that a route still naming it is
// refused as Compile would refuse it.
func shiftedUpstreams(prev, next *cowMap[int]) map[string]bool {
	var shifted map[string]bool
	for name, j := range prev.all() {
		if i, ok := next.lookup(name); !ok || i != j {
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

// compareNamed orders the i-th of a and the j-th of b by name, either
// past its end counting as greater: the step of a merge walk over two
// lists sorted by name.
func compareNamed[T any](a, b []T, i, j int, name func(*T) string) int {
	switch {
	case i >= len(a):
		return 1
	case j >= len(b):
		return -1
	}
	return strings.Compare(name(&a[i]), name(&b[j]))
}

func hostName(h *snapshot.VirtualHost) string  { return h.Name }
func upstreamName(u *snapshot.Upstream) string { return u.Name }

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
	return sameBits(a, b) || shallowEqual(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()) || reflect.DeepEqual(a, b)
}

// sameBits tells whether a and b hold the same bytes: every slice, map,
// pointer and string the same one. A producer's copy of an unchanged
// upstream is one, and comparing bytes costs a fraction of walking the
// fields by reflection, for each of thousands of upstreams per change.
// Different bytes (padding included) only mean "not known to be equal".
func sameBits(a, b *snapshot.Upstream) bool {
	size := int(unsafe.Sizeof(*a))
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(a)), size), unsafe.Slice((*byte)(unsafe.Pointer(b)), size))
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
// a new one for the others, whose pools alone the registry rebuilds. Both
// lists are sorted by name, so one walk over them finds what differs
// without a map look-up per upstream.
func (ru *reuse) upstreamsOf(r *Router, s *snapshot.Snapshot, index *cowMap[int]) (slotList, error) {
	if ru.full {
		return r.upstreams(s)
	}
	if ru.listed != nil {
		return ru.listedUpstreams(r, ru.listed)
	}
	if ru.snap.SameUpstreams(s) {
		return ru.upstreams, nil // the producer's promise: the very same list, numbered as before
	}
	changed, removed := ru.diffUpstreams(s.UpstreamSlice())
	if len(changed) == 0 && len(removed) == 0 {
		return ru.upstreams, nil
	}
	out := ru.upstreams.writer(slotCount(ru, index)) // a kept upstream keeps its slot (see slots)
	for _, name := range removed {
		slot, _ := ru.index.lookup(name)
		out.set(slot, nil)
	}
	return r.renewUpstreams(out, changed, removed, index)
}

// renewUpstreams puts new runtimes for changed in out, at their slots in
// index, with the pools the registry builds for them; removed lose theirs.
func (r *Router) renewUpstreams(out *slotWriter, changed []*snapshot.Upstream, removed []string, index *cowMap[int]) (slotList, error) {
	runtimes := make([]upstreamRuntime, len(changed))
	configs := make([]lb.PoolConfig, len(changed))
	for i, u := range changed {
		rt, err := r.runtimeOf(u, r.caPools)
		if err != nil {
			return slotList{}, err
		}
		runtimes[i], configs[i] = rt, poolConfig(u)
		slot, _ := index.lookup(u.Name)
		out.set(slot, &runtimes[i])
	}
	pools := r.registry.Patch(configs, removed)
	for i := range runtimes {
		runtimes[i].pool = pools[runtimes[i].name]
	}
	return out.slotList, nil
}

// diffUpstreams walks the previous snapshot's upstreams beside next (both
// sorted by name): changed are next's upstreams that are new or differ,
// removed the names next no longer has.
func (ru *reuse) diffUpstreams(next []snapshot.Upstream) (changed []*snapshot.Upstream, removed []string) {
	prev := ru.snap.UpstreamSlice()
	i, j := 0, 0
	for i < len(prev) || j < len(next) {
		switch k := compareNamed(prev, next, i, j, upstreamName); {
		case k < 0:
			removed = append(removed, prev[i].Name)
			i++
		case k > 0:
			changed = append(changed, &next[j])
			j++
		default:
			if !sameUpstream(&prev[i], &next[j]) {
				changed = append(changed, &next[j])
			}
			i, j = i+1, j+1
		}
	}
	return changed, removed
}

// slotCount is the length of a runtime list numbered by index.
func slotCount(ru *reuse, index *cowMap[int]) int {
	if index == ru.index {
		return ru.upstreams.len()
	}
	size := 0
	for _, slot := range index.all() {
		size = max(size, slot+1)
	}
	return size
}

// sameNames tells whether prev and s name the same upstreams in the same
// order; strings a producer shares compare by pointer at once.
func sameNames(prev, s *snapshot.Snapshot) bool {
	if prev.SameUpstreams(s) {
		return true
	}
	if prev.UpstreamCount() != s.UpstreamCount() {
		return false
	}
	a, b := prev.UpstreamSlice(), s.UpstreamSlice()
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// certificates returns the certificates in force when s has the very same
// certificate list as the snapshot in force, an equal default one and the
// very same Gateways (whose TLS ports have certificates of their own).
func (ru *reuse) certificates(s *snapshot.Snapshot, inForce *Certificates) (*Certificates, bool) {
	prev := ru.snap
	if ru.full || inForce == nil || !sameGateways(prev.Gateways, s.Gateways) || len(prev.Certificates) != len(s.Certificates) ||
		len(s.Certificates) > 0 && &prev.Certificates[0] != &s.Certificates[0] ||
		!reflect.DeepEqual(prev.DefaultCertificate, s.DefaultCertificate) {
		return nil, false
	}
	return inForce, true
}
