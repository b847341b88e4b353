package snapshot

import (
	"encoding/json"
	"iter"
	"slices"
	"sort"
)

// Order compares two entries of a SortedList by their key. Its
// implementations are empty structs: the order is part of the list's type,
// so a list holds no function value and compares with reflect.DeepEqual.
type Order[T any] interface {
	Compare(a, b *T) int
}

// listChunk is the most entries a chunk of a SortedList holds: a change
// copies one chunk and the chunk index (16 entries per KiB), so 64 keeps
// both small at 30,000 entries (~500 chunks).
const listChunk = 64

// SortedList is an immutable list sorted by O, kept in chunks, so that a
// changed copy (Put, Delete) shares every chunk but one with the original:
// changing one entry of 30,000 copies a few KiB instead of the whole list.
// Entries are read through pointers that must never be written: a list's
// chunks are shared by every list derived from it. The zero value is an
// empty list.
type SortedList[T any, O Order[T]] struct {
	chunks [][]T // each 1 to 2*listChunk entries long, never written once made
	n      int
}

// NewSortedList is the list of sorted (which it copies), in its order.
func NewSortedList[T any, O Order[T]](sorted []T) SortedList[T, O] {
	all := slices.Clone(sorted)
	l := SortedList[T, O]{n: len(all)}
	for i := 0; i < len(all); i += listChunk {
		j := min(i+listChunk, len(all))
		l.chunks = append(l.chunks, all[i:j:j])
	}
	return l
}

// Len is the number of entries.
func (l SortedList[T, O]) Len() int { return l.n }

// All yields the entries in order, with their position.
func (l SortedList[T, O]) All() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		n := 0
		for _, c := range l.chunks {
			for i := range c {
				if !yield(n, &c[i]) {
					return
				}
				n++
			}
		}
	}
}

// Slice is the entries in a new flat slice, nil when there are none.
func (l SortedList[T, O]) Slice() []T {
	if l.n == 0 {
		return nil
	}
	out := make([]T, 0, l.n)
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return out
}

// Find returns the first entry that compares equal to key; twice tells
// whether the entry after it does too (a list made from a slice with
// duplicates keeps them).
func (l SortedList[T, O]) Find(key *T) (_ *T, found, twice bool) {
	c, i, found := l.locate(key)
	if !found {
		return nil, false, false
	}
	var o O
	if next := l.after(c, i); next != nil {
		twice = o.Compare(next, key) == 0
	}
	return &l.chunks[c][i], true, twice
}

// Put is the list with v in place of the entry that compares equal to it,
// or with v inserted where it belongs.
func (l SortedList[T, O]) Put(v T) SortedList[T, O] {
	if l.n == 0 {
		return SortedList[T, O]{chunks: [][]T{{v}}, n: 1}
	}
	c, i, found := l.locate(&v)
	if c == len(l.chunks) { // after every entry
		c, i = c-1, len(l.chunks[c-1])
	}
	old := l.chunks[c]
	if found {
		next := slices.Clone(old)
		next[i] = v
		return l.replace(c, c+1, next)
	}
	next := make([]T, 0, len(old)+1)
	next = append(append(append(next, old[:i]...), v), old[i:]...)
	l.n++
	if len(next) > 2*listChunk {
		h := len(next) / 2
		return l.replace(c, c+1, next[:h:h], next[h:])
	}
	return l.replace(c, c+1, next)
}

// Delete is the list without the first entry that compares equal to key,
// or l when it has none.
func (l SortedList[T, O]) Delete(key *T) SortedList[T, O] {
	c, i, found := l.locate(key)
	if !found {
		return l
	}
	old := l.chunks[c]
	l.n--
	// A small chunk joins a neighbour, so that deletes never leave the
	// index with many tiny chunks.
	from, to := c, c+1
	var before, after []T
	if len(old) <= listChunk/4 {
		switch {
		case c > 0 && len(l.chunks[c-1]) < listChunk:
			from, before = c-1, l.chunks[c-1]
		case c+1 < len(l.chunks) && len(l.chunks[c+1]) < listChunk:
			to, after = c+2, l.chunks[c+1]
		}
	}
	next := make([]T, 0, len(before)+len(old)-1+len(after))
	next = append(append(append(append(next, before...), old[:i]...), old[i+1:]...), after...)
	if len(next) == 0 {
		return l.replace(from, to)
	}
	return l.replace(from, to, next)
}

// locate finds the chunk c and the position i in it of the first entry
// not less than key; c is len(l.chunks) when every entry is less.
func (l SortedList[T, O]) locate(key *T) (c, i int, found bool) {
	var o O
	c = sort.Search(len(l.chunks), func(c int) bool {
		last := l.chunks[c]
		return o.Compare(&last[len(last)-1], key) >= 0
	})
	if c == len(l.chunks) {
		return c, 0, false
	}
	chunk := l.chunks[c]
	i = sort.Search(len(chunk), func(i int) bool { return o.Compare(&chunk[i], key) >= 0 })
	return c, i, o.Compare(&chunk[i], key) == 0
}

// after is the entry after position i of chunk c, or nil.
func (l SortedList[T, O]) after(c, i int) *T {
	switch {
	case i+1 < len(l.chunks[c]):
		return &l.chunks[c][i+1]
	case c+1 < len(l.chunks):
		return &l.chunks[c+1][0]
	}
	return nil
}

// replace is l with chunks [from, to) replaced by with, in a new index.
func (l SortedList[T, O]) replace(from, to int, with ...[]T) SortedList[T, O] {
	chunks := make([][]T, 0, len(l.chunks)-(to-from)+len(with))
	chunks = append(append(append(chunks, l.chunks[:from]...), with...), l.chunks[to:]...)
	if len(chunks) == 0 {
		chunks = nil
	}
	l.chunks = chunks
	return l
}

// Same tells whether l and o are the very same list (not merely equal):
// a producer's promise that nothing in it changed.
func (l SortedList[T, O]) Same(o SortedList[T, O]) bool {
	return l.n == o.n && len(l.chunks) == len(o.chunks) && (len(l.chunks) == 0 || &l.chunks[0] == &o.chunks[0])
}

// MarshalJSON writes the entries as a JSON array, as a slice would be.
func (l SortedList[T, O]) MarshalJSON() ([]byte, error) {
	if l.n == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal(l.Slice())
}
