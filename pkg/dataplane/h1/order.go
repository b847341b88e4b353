package h1

import (
	"net/http"
	"unsafe"
)

// FieldOrder is what an engine knows of a header map it built: its keys
// in the order their fields came (each once), and the bytes its values
// were cut from. A writer goes by it to send fields in the order they
// were received, as nginx and Envoy do, rather than in the random order
// of ranging over the map, and to skip checking what the parser checked.
//
// The map stays the truth: phases edit it freely. A key the map no
// longer has is skipped; keys the order lacks are written after the
// others, and checked. Whoever fills a FieldOrder promises that Keys are
// tokens (as parsed, canonicalized, or constants) and that every byte of
// Parsed may be in a field value (the parser checked it) and is not
// written again while the order is in use: a value still lying within
// Parsed is then valid, whoever put it in the map, as strings are
// immutable.
type FieldOrder struct {
	Parsed string
	// slots is the array the engine put the map's values in, in the
	// order they came; names[j] is the key whose values begin at
	// slots[j] ("" if none). A key is found by where its values are, not
	// by comparing its name with each key's.
	slots, names []string
}

// Reset empties o for another map whose values are put in slots, with
// storage for as many names (nil: o's own).
func (o *FieldOrder) Reset(parsed string, slots, names []string) {
	if names == nil {
		names = o.names
	}
	if unsafe.SliceData(names) != unsafe.SliceData(o.names) {
		clear(o.names) // no view of a head kept beyond its request
	}
	if cap(names) < len(slots) {
		names = make([]string, len(slots))
	}
	o.Parsed, o.slots, o.names = parsed, slots, names[:len(slots)]
	clear(names[:cap(names)])
}

// Note records that key, which must be a token, has the values vv, if
// they begin in o's slots; a key whose do not is not placed.
// A nil o notes nothing.
func (o *FieldOrder) Note(key string, vv []string) {
	if o == nil {
		return
	}
	if j, ok := o.slotOf(vv); ok {
		o.names[j] = key
	}
}

// slotOf is the index in slots of vv's first element, if it is there.
func (o *FieldOrder) slotOf(vv []string) (int, bool) {
	if len(vv) == 0 {
		return 0, false
	}
	j := (uintptr(unsafe.Pointer(&vv[0])) - uintptr(unsafe.Pointer(unsafe.SliceData(o.slots)))) / unsafe.Sizeof("")
	return int(j), j < uintptr(len(o.slots)) // below the array, j wraps around
}

// Slots is the number of value slots o knows.
func (o *FieldOrder) Slots() int { return len(o.slots) }

// Has reports whether key is noted for one of the first n slots.
func (o *FieldOrder) Has(key string, n int) bool { return scanNames(o.names[:n], key) >= 0 }

func (o *FieldOrder) scan(key string) int { return scanNames(o.names, key) }

func scanNames(names []string, key string) int {
	for j, k := range names {
		if sameKey(k, key) {
			return j
		}
	}
	return -1
}

// sameKey is k == key, quicker when they are one string, as a map's key
// mostly is the very string the order holds.
func sameKey(k, key string) bool {
	return len(k) == len(key) && (unsafe.StringData(k) == unsafe.StringData(key) || k == key)
}

// Trusted reports whether v needs no check: it lies within Parsed.
func (o *FieldOrder) Trusted(v string) bool { return o != nil && within(o.Parsed, v) }

// within reports whether v's bytes lie in s's.
func within(s, v string) bool {
	if len(v) == 0 || len(s) == 0 {
		return false
	}
	off := uintptr(unsafe.Pointer(unsafe.StringData(v))) - uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return off < uintptr(len(s)) && uintptr(len(v)) <= uintptr(len(s))-off
}

// Range calls fn for each key of h with its values: the noted keys in
// their order, then the others, sorted by name. i is a noted key's
// place, -1 for the others (whose names are unchecked). A nil o
// ranges over h in the map's order, each key unchecked. One pass over
// the map places each key by where its values lie: a lookup per key
// would cost half as much again as the pass.
func (o *FieldOrder) Range(h http.Header, fn func(i int, name string, values []string)) {
	switch {
	case len(h) == 0:
	case o == nil:
		for k, vv := range h {
			fn(-1, k, vv)
		}
	case len(o.slots) <= 64:
		var lens [64]uint16
		o.rangeSlots(h, lens[:len(o.slots)], fn)
	default:
		o.rangeSlots(h, make([]uint16, len(o.slots)), fn)
	}
}

// rangeSlots notes in lens[j] 1 + the number of values of the key at
// slot j that still has them there. Keys noted whose values moved (a
// phase's slice, a repeated field's) keep their place too.
func (o *FieldOrder) rangeSlots(h http.Header, lens []uint16, fn func(int, string, []string)) {
	var buf [2]field
	var movedBuf [1]field
	others, moved := buf[:0], movedBuf[:0]
	for k, vv := range h {
		if j, ok := o.slotOf(vv); ok && len(vv) < 1<<16-1 && sameKey(o.names[j], k) {
			lens[j] = uint16(len(vv) + 1)
			continue
		}
		if j := o.scan(k); j >= 0 {
			moved = append(moved, field{k, vv, j})
			continue
		}
		others = append(others, field{k, vv, -1})
	}
	for j, n := range lens {
		switch {
		case n != 0:
			fn(j, o.names[j], o.slots[j:j+int(n)-1:j+int(n)-1])
		case len(moved) > 0 && o.names[j] != "":
			for _, f := range moved {
				if f.at == j {
					fn(j, f.name, f.values)
				}
			}
		}
	}
	rangeSorted(others, fn)
}

// rangeSorted calls fn for fields no order places, sorted by name, so
// that what phases add comes out the same way each time.
func rangeSorted(others []field, fn func(int, string, []string)) {
	for i := 1; i < len(others); i++ { // insertion sort: mostly one or two
		for j := i; j > 0 && others[j].name < others[j-1].name; j-- {
			others[j], others[j-1] = others[j-1], others[j]
		}
	}
	for _, f := range others {
		fn(-1, f.name, f.values)
	}
}

type field struct {
	name   string
	values []string
	at     int // the slot of a noted key
}
