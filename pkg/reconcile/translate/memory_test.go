package translate

import (
	"runtime"
	"testing"

	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// TestCacheMemoryPerIngress bounds what a Cache and its output keep per
// Ingress in the cluster of issue 10 (one host, two paths, a Service
// shared by ten): at 10k Ingresses it is about half of the live
// heap. The indexes of one map per host, a copy of the upstream per group
// and of the conditions per Ingress, and a second copy of the results list
// made it 3.8 KB; now it is 2.9 KB.
func TestCacheMemoryPerIngress(t *testing.T) {
	if racetest.Enabled {
		t.Skip("the race detector changes what allocations cost")
	}
	const n = 4000
	in := scaleInput(n)
	before := liveHeap()
	cache := NewCache()
	out := cache.Translate(in)
	perIngress := (int64(liveHeap()) - int64(before)) / n
	runtime.KeepAlive(out)
	runtime.KeepAlive(cache)
	t.Logf("%d bytes per Ingress", perIngress)
	const limit = 3300
	if perIngress > limit {
		t.Errorf("the Cache keeps %d bytes per Ingress, want at most %d", perIngress, limit)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
