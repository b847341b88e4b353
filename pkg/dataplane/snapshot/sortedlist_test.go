package snapshot

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestSortedListFollowsASortedSlice puts and deletes random names, from
// lists of every size around the chunk boundaries, and compares the list
// with a plain sorted slice after each step; a list it was derived from
// must stay as it was.
func TestSortedListFollowsASortedSlice(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, size := range []int{0, 1, listChunk - 1, listChunk, listChunk + 1, 2 * listChunk, 5*listChunk + 3} {
		want := hostsNamed(rng, size)
		l := NewHostList(want)
		for step := range 600 {
			where := fmt.Sprintf("seed %d size %d step %d", seed, size, step)
			before, beforeWant := l, slices.Clone(want)
			name := fmt.Sprintf("h%04d", rng.IntN(3*size+8))
			if rng.IntN(2) == 0 {
				v := VirtualHost{Name: name, Routes: []Route{{Path: fmt.Sprint(step)}}}
				l, want = l.Put(v), putHost(want, v)
			} else {
				l, want = l.Delete(&VirtualHost{Name: name}), deleteHost(want, name)
			}
			sameAsSlice(t, where, l, want)
			sameAsSlice(t, where+" (the list before)", before, beforeWant)
		}
	}
}

func hostsNamed(rng *rand.Rand, n int) []VirtualHost {
	var hosts []VirtualHost
	for _, i := range rng.Perm(3*n + 8)[:n] {
		hosts = append(hosts, VirtualHost{Name: fmt.Sprintf("h%04d", i)})
	}
	slices.SortFunc(hosts, func(a, b VirtualHost) int { return strings.Compare(a.Name, b.Name) })
	return hosts
}

func putHost(list []VirtualHost, v VirtualHost) []VirtualHost {
	i, found := slices.BinarySearchFunc(list, v.Name, func(h VirtualHost, n string) int { return strings.Compare(h.Name, n) })
	if found {
		list = slices.Clone(list)
		list[i] = v
		return list
	}
	return slices.Insert(slices.Clone(list), i, v)
}

func deleteHost(list []VirtualHost, name string) []VirtualHost {
	i, found := slices.BinarySearchFunc(list, name, func(h VirtualHost, n string) int { return strings.Compare(h.Name, n) })
	if !found {
		return list
	}
	return slices.Delete(slices.Clone(list), i, i+1)
}

// sameAsSlice checks every way of reading l against want, and the chunk
// sizes the list promises.
func sameAsSlice(t *testing.T, where string, l HostList, want []VirtualHost) {
	t.Helper()
	if got := l.Slice(); l.Len() != len(want) || !reflect.DeepEqual(got, slices.Clip(want)) && len(want) > 0 {
		t.Fatalf("%s: list has %d %v, want %d %v", where, l.Len(), names(got), len(want), names(want))
	}
	n := 0
	for i, h := range l.All() {
		if i != n || h.Name != want[i].Name {
			t.Fatalf("%s: All yields %d %q, want %d %q", where, i, h.Name, n, want[n].Name)
		}
		n++
	}
	for _, c := range l.chunks {
		if len(c) == 0 || len(c) > 2*listChunk {
			t.Fatalf("%s: a chunk of %d entries", where, len(c))
		}
	}
	for i := range want {
		if h, found, twice := l.Find(&want[i]); !found || twice || h.Name != want[i].Name {
			t.Fatalf("%s: Find(%q) = %v, %v, %v", where, want[i].Name, h, found, twice)
		}
	}
	if _, found, _ := l.Find(&VirtualHost{Name: "zzz"}); found {
		t.Fatalf("%s: found a name the list does not have", where)
	}
}

func names(hosts []VirtualHost) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.Name)
	}
	return out
}

// TestSortedListChangeCopiesAChunk: replacing one entry of a large list
// shares every chunk but one with the list it came from.
func TestSortedListChangeCopiesAChunk(t *testing.T) {
	l := NewHostList(hostsNamed(rand.New(rand.NewPCG(1, 2)), 30000))
	v := l.chunks[200][3]
	next := l.Put(v).Delete(&l.chunks[300][0])
	shared := 0
	for c := range next.chunks {
		if c < len(l.chunks) && &next.chunks[c][0] == &l.chunks[c][0] {
			shared++
		}
	}
	if shared < len(l.chunks)-3 {
		t.Fatalf("%d of %d chunks shared", shared, len(l.chunks))
	}
	if next.Same(l) || !next.Same(next) || !(HostList{}).Same(HostList{}) {
		t.Fatal("Same is wrong")
	}
}
