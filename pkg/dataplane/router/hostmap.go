package router

import (
	"hash/maphash"
	"maps"
)

// hostShards is how many shards a hostMap has: at 30,000 hosts a patch
// copies about 120 entries per shard it writes instead of all of them.
const hostShards = 256

var hostSeed = maphash.MakeSeed()

// hostMap maps host keys to their compiled routes, split into shards by
// hash so that a table patched from the one in force copies only the
// shards it writes and shares the rest: the work of an Apply follows the
// hosts that changed, not the number of hosts. A map reachable from a
// published table is never written; the zero value is an empty map.
type hostMap struct {
	shards [hostShards]map[string]*hostRoutes
	// owned marks the shards this map made itself and may write; the
	// others are shared with the map it was copied from.
	owned [hostShards / 64]uint64
}

// copyOnWrite returns a map with m's entries whose writes leave m alone.
func (m *hostMap) copyOnWrite() hostMap {
	return hostMap{shards: m.shards}
}

// get looks key up without allocating (the compiler keeps string(key)
// on the stack).
func (m *hostMap) get(key []byte) (*hostRoutes, bool) {
	hr, ok := m.shards[maphash.Bytes(hostSeed, key)%hostShards][string(key)]
	return hr, ok
}

func (m *hostMap) has(key string) bool {
	_, ok := m.shards[maphash.String(hostSeed, key)%hostShards][key]
	return ok
}

func (m *hostMap) set(key string, hr *hostRoutes) {
	m.writable(key)[key] = hr
}

func (m *hostMap) delete(key string) {
	if m.has(key) {
		delete(m.writable(key), key)
	}
}

// writable is key's shard, copied first if m shares it.
func (m *hostMap) writable(key string) map[string]*hostRoutes {
	i := maphash.String(hostSeed, key) % hostShards
	if bit := uint64(1) << (i % 64); m.owned[i/64]&bit == 0 {
		// maps.Clone copies the table whole, several times faster than
		// inserting its entries one by one.
		shard := maps.Clone(m.shards[i])
		if shard == nil {
			shard = map[string]*hostRoutes{}
		}
		m.shards[i] = shard
		m.owned[i/64] |= bit
	}
	return m.shards[i]
}
