package translate

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// TestIngressSet checks the set against a map as it grows past the slice
// it starts with and shrinks again.
func TestIngressSet(t *testing.T) {
	var s ingressSet
	want := map[types.NamespacedName]bool{}
	key := func(i int) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: fmt.Sprint(i)} }
	check := func(step string) {
		t.Helper()
		got := slices.Collect(s.all())
		if len(got) != len(want) || s.len() != len(want) {
			t.Fatalf("%s: %d members (len %d), want %d", step, len(got), s.len(), len(want))
		}
		for _, k := range got {
			if !want[k] {
				t.Fatalf("%s: %v is a member, want %v", step, k, slices.Collect(maps.Keys(want)))
			}
		}
	}
	for i := range 3 * fewIngresses {
		s.add(key(i))
		s.add(key(i)) // twice is once
		want[key(i)] = true
		check(fmt.Sprintf("add %d", i))
	}
	for i := range 3 * fewIngresses {
		s.remove(key(i))
		delete(want, key(i))
		check(fmt.Sprintf("remove %d", i))
	}
	var none *ingressSet
	if none.len() != 0 || len(slices.Collect(none.all())) != 0 {
		t.Error("a nil set has members")
	}
}
