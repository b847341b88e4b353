package proxy

import (
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// headerOf is a Header of name, value pairs, in order.
func headerOf(pairs ...string) Header {
	var h Header
	for i := 0; i+1 < len(pairs); i += 2 {
		h.fields = append(h.fields, h1.HeadField{Name: pairs[i], Value: pairs[i+1], Checked: true})
	}
	return h
}

// namesIn is h's field names, in order.
func namesIn(h *Header) []string {
	var names []string
	for name := range h.All() {
		names = append(names, name)
	}
	return names
}

// TestRemoveHopByHop: fields named by Connection go, in any spelling
// (RFC 9110 7.6.1), with the fixed hop-by-hop set, in any spelling; the
// others stay, in their order.
func TestRemoveHopByHop(t *testing.T) {
	h := headerOf(
		"X-Kept", "3",
		"connection", "keep-alive, X-SECRET-hop",
		"keep-alive", "timeout=5",
		"X-Secret-Hop", "1",
		"Connection", "close ,x-other",
		"X-Other", "2",
		"x-kept-too", "4",
		"TE", "trailers",
	)
	h.removeHopByHop()
	if got := namesIn(&h); !slices.Equal(got, []string{"X-Kept", "x-kept-too"}) {
		t.Errorf("left %q, want X-Kept and x-kept-too", got)
	}
}

// TestRemoveHopByHopAllocatesNothing: a backend's "Connection:
// keep-alive", on every response, must not cost anything per request.
func TestRemoveHopByHopAllocatesNothing(t *testing.T) {
	if racetest.Enabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	src := headerOf("Connection", "keep-alive, close", "Content-Type", "text/plain")
	h := Header{fields: make([]h1.HeadField, 0, 2)}
	allocs := testing.AllocsPerRun(100, func() {
		h.fields = append(h.fields[:0], src.fields...)
		h.removeHopByHop()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per response, want 0", allocs)
	}
}

// TestRemoveHopByHopNames: every name of hopHeaders goes, in any case,
// and with more options than the stack holds; other names stay.
func TestRemoveHopByHopNames(t *testing.T) {
	var h Header
	for _, name := range hopHeaders {
		h.Add(name, "x")
		h.Add(lowerASCII(name), "x")
	}
	options := ""
	for i := range 12 {
		name := "X-Opt-" + string(rune('a'+i))
		h.Add(name, "y")
		options += name + ","
	}
	h.Add("Connection", options)
	h.Add("X-Kept", "z")
	h.removeHopByHop()
	if got := namesIn(&h); !slices.Equal(got, []string{"X-Kept"}) {
		t.Errorf("left %q, want only X-Kept", got)
	}
	for _, name := range []string{"Content-Type", "Host", "X-Upgrade", "Tes", "Keep-Alives"} {
		if isHopName(name) {
			t.Errorf("isHopName(%q)", name)
		}
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
