package router

import (
	"hash/maphash"
	"iter"
	"maps"
)

// cowFanout is how many children a level of a cowMap has: 64 × 64 leaves,
// so that at 30,000 keys a patch copies a few entries per leaf it writes,
// and a pointer array of 64 per level, instead of a 256th of the keys.
const cowFanout = 64

var cowSeed = maphash.MakeSeed()

// cowMap maps strings to V in two levels of 64 by hash, the leaves small
// maps, so that a map patched from the one in force copies only the path
// to the leaves it writes and shares the rest: the work of an Apply
// follows what changed, not the number of keys. A map reachable from a
// published state is never written; the zero value is an empty map.
type cowMap[V any] struct {
	mids [cowFanout]*cowMid[V]
	// owned marks the mids this map made itself and may write; the
	// others are shared with the map it was copied from.
	owned uint64
	n     int
}

// cowMid is a level of a cowMap: leaves by the hash's second part.
type cowMid[V any] struct {
	leaves [cowFanout]map[string]V
	owned  uint64 // leaves this mid made itself, while its map owns it
}

// hostMap maps host keys to their compiled routes.
type hostMap = cowMap[*hostRoutes]

// copyOnWrite returns a map with m's entries whose writes leave m alone.
func (m *cowMap[V]) copyOnWrite() cowMap[V] {
	return cowMap[V]{mids: m.mids, n: m.n}
}

// get looks key up without allocating (the compiler keeps string(key)
// on the stack).
func (m *cowMap[V]) get(key []byte) (V, bool) {
	v, ok := m.leaf(maphash.Bytes(cowSeed, key))[string(key)]
	return v, ok
}

func (m *cowMap[V]) lookup(key string) (V, bool) {
	v, ok := m.leaf(maphash.String(cowSeed, key))[key]
	return v, ok
}

func (m *cowMap[V]) has(key string) bool {
	_, ok := m.lookup(key)
	return ok
}

func (m *cowMap[V]) len() int { return m.n }

// leaf is the leaf of hash h; nil (which reads as empty) when none was made.
func (m *cowMap[V]) leaf(h uint64) map[string]V {
	mid := m.mids[h%cowFanout]
	if mid == nil {
		return nil
	}
	return mid.leaves[h/cowFanout%cowFanout]
}

func (m *cowMap[V]) set(key string, v V) {
	leaf := m.writable(key)
	if _, ok := leaf[key]; !ok {
		m.n++
	}
	leaf[key] = v
}

func (m *cowMap[V]) delete(key string) {
	if m.has(key) {
		delete(m.writable(key), key)
		m.n--
	}
}

// all yields the entries in no particular order.
func (m *cowMap[V]) all() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, mid := range m.mids {
			if mid == nil {
				continue
			}
			for _, leaf := range mid.leaves {
				for k, v := range leaf {
					if !yield(k, v) {
						return
					}
				}
			}
		}
	}
}

// writable is key's leaf, copied first (and the mid above it) if m
// shares it.
func (m *cowMap[V]) writable(key string) map[string]V {
	h := maphash.String(cowSeed, key)
	i, j := h%cowFanout, h/cowFanout%cowFanout
	if bit := uint64(1) << i; m.owned&bit == 0 {
		mid := &cowMid[V]{}
		if m.mids[i] != nil {
			mid.leaves = m.mids[i].leaves
		}
		m.mids[i] = mid
		m.owned |= bit
	}
	mid := m.mids[i]
	if bit := uint64(1) << j; mid.owned&bit == 0 {
		// maps.Clone copies the table whole, several times faster than
		// inserting its entries one by one.
		leaf := maps.Clone(mid.leaves[j])
		if leaf == nil {
			leaf = map[string]V{}
		}
		mid.leaves[j] = leaf
		mid.owned |= bit
	}
	return mid.leaves[j]
}
