package proxy_test

import (
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/internal/racetest"
)

// headerLines builds a Header of name, value pairs, in order.
func headerLines(pairs ...string) proxy.Header {
	var h proxy.Header
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// linesOf is h's fields as name, value pairs, in order.
func linesOf(h *proxy.Header) []string {
	var out []string
	for name, value := range h.All() {
		out = append(out, name, value)
	}
	return out
}

// TestHeaderEdits: names compare without regard to case; the lines keep
// their order and their names' spelling; Set leaves one line of a
// repeated name, where its first was.
func TestHeaderEdits(t *testing.T) {
	cases := []struct {
		name string
		edit func(h *proxy.Header)
		want []string
	}{
		{"nothing", func(*proxy.Header) {}, []string{"X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b"}},
		{"Set of a repeated name keeps one, first place, name as given", func(h *proxy.Header) { h.Set("SET-COOKIE", "c") },
			[]string{"X-A", "1", "SET-COOKIE", "c", "X-B", "2"}},
		{"Set of a new name adds it last", func(h *proxy.Header) { h.Set("x-new", "n") },
			[]string{"X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b", "x-new", "n"}},
		{"Add appends, repeats too", func(h *proxy.Header) { h.Add("x-a", "3") },
			[]string{"X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b", "x-a", "3"}},
		{"Append joins the last line of the name", func(h *proxy.Header) { h.Append("SET-cookie", "z") },
			[]string{"X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b,z"}},
		{"Append of a new name adds it", func(h *proxy.Header) { h.Append("X-C", "c") },
			[]string{"X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b", "X-C", "c"}},
		{"Del removes every line of the name, any case", func(h *proxy.Header) { h.Del("Set-COOKIE") },
			[]string{"X-A", "1", "X-B", "2"}},
		{"Del of an absent name", func(h *proxy.Header) { h.Del("X-None") },
			[]string{"X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b"}},
		{"Del then Add", func(h *proxy.Header) { h.Del("x-a"); h.Add("X-A", "again") },
			[]string{"set-cookie", "a", "X-B", "2", "Set-Cookie", "b", "X-A", "again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := headerLines("X-A", "1", "set-cookie", "a", "X-B", "2", "Set-Cookie", "b")
			tc.edit(&h)
			if got := linesOf(&h); !slices.Equal(got, tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
			if h.Len() != len(tc.want)/2 {
				t.Errorf("Len %d, want %d", h.Len(), len(tc.want)/2)
			}
		})
	}
}

// TestHeaderReads: Get, Has and Values find a name in any case; Values
// yields a repeated name's values in order; Clone is an http.Header with
// canonical keys.
func TestHeaderReads(t *testing.T) {
	h := headerLines("x-a", "1", "Set-Cookie", "a", "X-B", "2", "SET-COOKIE", "b")
	if got := h.Get("X-A"); got != "1" {
		t.Errorf("Get(X-A) = %q", got)
	}
	if got := h.Get("set-cookie"); got != "a" {
		t.Errorf("Get(set-cookie) = %q, want the first", got)
	}
	if h.Get("X-None") != "" || h.Has("X-None") || !h.Has("x-b") {
		t.Errorf("Has/Get of absent or present names wrong")
	}
	if got := slices.Collect(h.Values("set-COOKIE")); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Values = %q", got)
	}
	want := http.Header{"X-A": {"1"}, "Set-Cookie": {"a", "b"}, "X-B": {"2"}}
	if got := h.Clone(); !reflect.DeepEqual(got, want) {
		t.Errorf("Clone = %v, want %v", got, want)
	}
	var zero proxy.Header
	if zero.Len() != 0 || zero.Get("X") != "" || zero.Clone() == nil {
		t.Errorf("zero Header is not empty")
	}
}

// TestHeaderReadsAllocateNothing: a phase that reads the fields costs
// nothing per request.
func TestHeaderReadsAllocateNothing(t *testing.T) {
	if racetest.Enabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	h := headerLines("x-a", "1", "Set-Cookie", "a", "X-B", "2", "SET-COOKIE", "b")
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		for v := range h.Values("set-cookie") {
			n += len(v)
		}
		for name, v := range h.All() {
			n += len(name) + len(v)
		}
		n += len(h.Get("X-B"))
		if h.Has("x-a") {
			n++
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read, want 0", allocs)
	}
}
