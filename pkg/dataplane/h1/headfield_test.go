package h1_test

import (
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// TestNameComparisons: names compare in any ASCII case, and nothing else
// folds: a byte that differs from a letter by 0x20 only when it is that
// letter's other case, '-' and digits exactly.
func TestNameComparisons(t *testing.T) {
	cases := []struct {
		name, lower string
		same        bool
	}{
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "content-length", true},
		{"content-length", "content-length", true},
		{"Content-Lengt", "content-length", false},
		{"Content_Length", "content-length", false},
		{"Content\rLength", "content-length", false},
		{"Proxy-Authorization", "proxy-authorization", true},
		{"Proxy-AuthorizatioN", "proxy-authorization", true},
		{"Proxy-Authorizatioo", "proxy-authorization", false},
		{"TE", "te", true},
		{"T\x05", "te", false},
		{"Date", "date", true},
		{"D@te", "date", false},
		{"X-1", "x-1", true},
		{"X-\x11", "x-1", false},
		{"Keep-Alive", "keep-alive", true},
		{"Keep\rAlive", "keep-alive", false},
		{"Keep-Alivf", "keep-alive", false},
		{"", "", true},
	}
	for _, tc := range cases {
		if got := h1.NameIs(tc.name, tc.lower); got != tc.same {
			t.Errorf("NameIs(%q, %q) = %v, want %v", tc.name, tc.lower, got, tc.same)
		}
		if got := h1.SameName(tc.name, tc.lower); got != tc.same {
			t.Errorf("SameName(%q, %q) = %v, want %v", tc.name, tc.lower, got, tc.same)
		}
		if got := h1.SameName(tc.lower, tc.name); got != tc.same {
			t.Errorf("SameName(%q, %q) = %v, want %v", tc.lower, tc.name, got, tc.same)
		}
	}
}
