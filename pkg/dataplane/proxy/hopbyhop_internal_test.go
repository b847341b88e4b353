package proxy

import (
	"net/http"
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// TestRemoveHopByHop: fields named by Connection go, in any spelling
// (RFC 9110 7.6.1), with the fixed hop-by-hop set; the others stay.
func TestRemoveHopByHop(t *testing.T) {
	h := http.Header{
		"Connection":   {"keep-alive, X-SECRET-hop", "close ,x-other"},
		"Keep-Alive":   {"timeout=5"},
		"X-Secret-Hop": {"1"},
		"X-Other":      {"2"},
		"X-Kept":       {"3"},
		"Te":           {"trailers"},
	}
	removeHopByHop(h)
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, []string{"X-Kept"}) {
		t.Errorf("left %q, want only X-Kept", got)
	}
}

// TestRemoveHopByHopAllocatesNothing: a backend's "Connection:
// keep-alive", on every response, must not cost a string per request.
func TestRemoveHopByHopAllocatesNothing(t *testing.T) {
	if racetest.Enabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	h := http.Header{"Connection": {"keep-alive, close"}, "Content-Type": {"text/plain"}}
	conn := []string{"keep-alive, close"}
	allocs := testing.AllocsPerRun(100, func() {
		h["Connection"] = conn
		removeHopByHop(h)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per response, want 0", allocs)
	}
}

// TestRemoveHopByHopSmallAndLargeHeads: a head of few fields is looked
// over, a large one probed for each hop-by-hop name; both remove every
// name of hopHeaders and keep the rest.
func TestRemoveHopByHopSmallAndLargeHeads(t *testing.T) {
	for _, fields := range []int{0, 1, len(hopHeaders) + 1, 40} {
		h := http.Header{}
		for _, name := range hopHeaders {
			h[name] = []string{"x"}
		}
		for i := range fields {
			h["X-Kept-"+string(rune('A'+i%26))+string(rune('a'+i/26))] = []string{"y"}
		}
		removeHopByHop(h)
		for _, name := range hopHeaders {
			if _, ok := h[name]; ok {
				t.Errorf("%d other fields: %s left", fields, name)
			}
		}
		if len(h) != fields {
			t.Errorf("%d other fields: %d left", fields, len(h))
		}
	}
	for _, name := range []string{"Content-Type", "Host", "X-Upgrade", "te", "Tes"} {
		if isHopHeader(name) {
			t.Errorf("isHopHeader(%q)", name)
		}
	}
}
