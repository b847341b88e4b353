package h1

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// noted builds a header as an engine does: each key's values in slots,
// in the order given, noted in o.
func noted(o *FieldOrder, parsed string, keys ...string) http.Header {
	slots := make([]string, len(keys))
	o.Reset(parsed, slots, nil)
	h := http.Header{}
	for i, k := range keys {
		slots[i] = parsed[:1]
		h[k] = slots[i : i+1 : i+1]
		o.Note(k, h[k])
	}
	return h
}

func ranged(o *FieldOrder, h http.Header) (names []string, placed []bool) {
	var f Fields
	f.Reset(o, h)
	for {
		i, name, _, ok := f.Next()
		if !ok {
			return names, placed
		}
		names, placed = append(names, name), append(placed, i >= 0)
	}
}

// Fields gives the noted keys in their order, whatever the map's, then
// what the map gained since, sorted; a deleted key is skipped, a noted
// key whose values a phase replaced keeps its place.
func TestFieldsInReceivedOrder(t *testing.T) {
	var o FieldOrder
	keys := []string{"Zeta", "B", "Accept", "X-Y", "Q", "Cache-Control", "A", "M", "Z", "K", "Aa", "Bb"}
	h := noted(&o, "v", keys...)
	got, placed := ranged(&o, h)
	if !slices.Equal(got, keys) || slices.Contains(placed, false) {
		t.Fatalf("noted keys came as %q (placed %v), want %q", got, placed, keys)
	}
	delete(h, "Accept")
	h["Q"] = []string{"a phase's"}
	h["Added-2"], h["Added-1"] = []string{"x"}, []string{"y"}
	got, placed = ranged(&o, h)
	want := []string{"Zeta", "B", "X-Y", "Q", "Cache-Control", "A", "M", "Z", "K", "Aa", "Bb", "Added-1", "Added-2"}
	if !slices.Equal(got, want) {
		t.Fatalf("keys came as %q, want %q", got, want)
	}
	if !placed[3] || placed[len(placed)-1] {
		t.Errorf("placed %v: the replaced Q keeps its place, added keys have none", placed)
	}
}

// Trusted vouches only for strings within Parsed.
func TestFieldOrderTrusted(t *testing.T) {
	parsed := "abc\tdef"
	o := FieldOrder{Parsed: parsed}
	for v, want := range map[string]bool{parsed[1:3]: true, parsed: true, "abc": false, "": false, parsed[7:]: false} {
		if got := o.Trusted(v); got != want {
			t.Errorf("Trusted(%q) = %v, want %v", v, got, want)
		}
	}
	var none *FieldOrder
	if none.Trusted(parsed) {
		t.Error("a nil order vouches for nothing")
	}
}

// Keys the order lacks come sorted however many there are, and a key
// noted at two slots (a field the proxy rewrote) comes once, where its
// values are.
func TestFieldOrderManyOthersAndRenoted(t *testing.T) {
	var o FieldOrder
	h := noted(&o, "v", "A", "X-Forwarded-For", "B")
	slots := o.slots
	slots[2] = "w" // B's slot now holds X-Forwarded-For's rewritten value
	h["X-Forwarded-For"] = slots[2:3:3]
	delete(h, "B")
	o.Note("X-Forwarded-For", h["X-Forwarded-For"])
	added := []string{"F", "E", "D", "C", "Bz", "Ba"}
	for _, k := range added {
		h[k] = []string{"x"}
	}
	got, _ := ranged(&o, h)
	want := []string{"A", "X-Forwarded-For", "Ba", "Bz", "C", "D", "E", "F"}
	if !slices.Equal(got, want) {
		t.Fatalf("keys came as %q, want %q", got, want)
	}
}

// A head of more fields than Fields has bits in place keeps its order.
func TestFieldOrderManySlots(t *testing.T) {
	var o FieldOrder
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = "K" + strconv.Itoa(1000-i) // not in sorted order
	}
	h := noted(&o, "v", keys...)
	if got, _ := ranged(&o, h); !slices.Equal(got, keys) {
		t.Fatalf("keys came as %q..., want %q...", got[:3], keys[:3])
	}
}
