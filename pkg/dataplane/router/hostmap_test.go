package router

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestCowMapCopiesLeaveTheOriginalAlone: a chain of copies, each written
// at random (sets, overwrites, deletes of keys present or not), holds
// what a plain map written the same way holds, and every earlier copy
// still holds what it held when it was copied: a published table or index
// is never written through a later one.
func TestCowMapCopiesLeaveTheOriginalAlone(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	var copies []*cowMap[int]
	var models []map[string]int
	m, model := &cowMap[int]{}, map[string]int{}
	for step := range 60 {
		for range rng.IntN(200) {
			key := fmt.Sprintf("k%d", rng.IntN(5000))
			if rng.IntN(3) == 0 {
				m.delete(key)
				delete(model, key)
			} else {
				m.set(key, step)
				model[key] = step
			}
		}
		copies, models = append(copies, m), append(models, maps.Clone(model))
		next := m.copyOnWrite()
		m = &next
	}
	for i, c := range copies {
		if got := maps.Collect(c.all()); c.len() != len(models[i]) || !maps.Equal(got, models[i]) {
			t.Fatalf("seed %d: copy %d holds %d entries (len %d), want %d", seed, i, len(got), c.len(), len(models[i]))
		}
		for key, v := range models[i] {
			if got, ok := c.get([]byte(key)); !ok || got != v {
				t.Fatalf("seed %d: copy %d has %s = %d %v, want %d", seed, i, key, got, ok, v)
			}
		}
	}
}
