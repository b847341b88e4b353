package h1

import (
	"math/bits"
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

// Fields walks the fields of a header in the order of a FieldOrder: the
// noted keys in their order, then the others, sorted by name. Reset ranges over the map once, placing each key by where
// its values lie (a lookup per noted key would cost more than a step of
// the map's iterator); Next then goes by a bit per slot that was placed,
// in slot order, skipping the empty ones a word at a time.
type Fields struct {
	o *FieldOrder
	// placed has bit j set for the slots whose key is given there, with
	// the one value in slot j unless elsewhere says otherwise; big is
	// placed for an order of more slots than it has bits.
	placed    [4]uint64
	big       []uint64
	word      int    // the word of placed being walked
	bits      uint64 // its bits not walked yet
	elsewhere fieldList
	others    fieldList // the keys the order lacks, sorted
	done      int       // of others
}

// Reset starts f on h's fields in o's order; o must not be nil.
func (f *Fields) Reset(o *FieldOrder, h http.Header) {
	f.o, f.placed, f.big, f.word, f.bits, f.done = o, [4]uint64{}, nil, -1, 0, 0
	f.elsewhere.reset()
	f.others.reset()
	if len(h) == 0 { // an iterator's start costs several steps
		return
	}
	if len(o.slots) > 64*len(f.placed) {
		f.big = make([]uint64, (len(o.slots)+63)/64)
	}
	for k, vv := range h {
		if j, ok := o.slotOf(vv); ok && len(vv) == 1 && sameKey(o.names[j], k) {
			f.place(j)
			continue
		}
		if j := o.scan(k); j >= 0 { // values moved (a phase's, a repeated field's)
			f.place(j)
			f.elsewhere.add(field{k, vv, j})
			continue
		}
		f.others.add(field{k, vv, -1})
	}
	f.others.sortByName()
}

func (f *Fields) place(j int) {
	if f.big != nil {
		f.big[uint(j)/64] |= 1 << (uint(j) % 64)
		return
	}
	f.placed[uint(j)/64%4] |= 1 << (uint(j) % 64) // without big, j < 256
}

func (f *Fields) placedWord(w int) uint64 {
	switch {
	case f.big != nil && w < len(f.big):
		return f.big[w]
	case f.big == nil && w < len(f.placed):
		return f.placed[w]
	}
	return 0
}

// Next is the next field: its place in the order (-1 for a key the
// order lacks, whose name is unchecked), name and values; ok is false
// when there are no more. They are results, not fields of f: stores
// through f would cost a write barrier's check each.
func (f *Fields) Next() (at int, name string, values []string, ok bool) {
	for f.bits == 0 {
		f.word++
		if f.word*64 >= len(f.o.slots) {
			return f.nextOther()
		}
		f.bits = f.placedWord(f.word)
	}
	j := f.word*64 + bits.TrailingZeros64(f.bits)
	f.bits &= f.bits - 1
	if f.elsewhere.n > 0 {
		if x := f.elsewhere.find(j); x != nil {
			return j, x.name, x.values, true
		}
	}
	return j, f.o.names[j], f.o.slots[j : j+1 : j+1], true
}

func (f *Fields) nextOther() (int, string, []string, bool) {
	if f.done == f.others.n {
		return 0, "", nil, false
	}
	x := f.others.at(f.done)
	f.done++
	return -1, x.name, x.values, true
}

// fieldList holds a few fields in place, more in a slice (not one of its
// own array's: that would move a Fields to the heap).
type fieldList struct {
	few  [2]field
	many []field
	n    int
}

func (l *fieldList) reset() { l.n, l.many = 0, nil }

func (l *fieldList) add(x field) {
	if l.n < len(l.few) {
		l.few[l.n] = x
	} else {
		if l.many == nil {
			l.many = append(make([]field, 0, 2*len(l.few)), l.few[:]...)
		}
		l.many = append(l.many, x)
	}
	l.n++
}

func (l *fieldList) at(i int) *field {
	if l.many != nil {
		return &l.many[i]
	}
	return &l.few[i]
}

func (l *fieldList) find(slot int) *field {
	for i := range l.n {
		if x := l.at(i); x.at == slot {
			return x
		}
	}
	return nil
}

// sortByName sorts by an insertion sort: mostly none, one or two fields.
func (l *fieldList) sortByName() {
	for i := 1; i < l.n; i++ {
		for j := i; j > 0 && l.at(j).name < l.at(j-1).name; j-- {
			*l.at(j), *l.at(j - 1) = *l.at(j - 1), *l.at(j)
		}
	}
}

type field struct {
	name   string
	values []string
	at     int // the slot of a noted key
}
