package h1_test

import (
	"net/textproto"
	"slices"
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

// refIsCanonical is IsCanonicalName a byte at a time.
func refIsCanonical(name string) bool {
	upper := true // first, or after '-'
	for i := 0; i < len(name); i++ {
		c := name[i]
		if l := c | 0x20; 'a' <= l && l <= 'z' && (c < 'a') != upper {
			return false
		}
		upper = c == '-'
	}
	return true
}

// TestIsCanonicalNameEachByte puts every byte value at every position of
// canonical names up to three words long, and a '-' before it, against
// the byte loop and, for a token, against textproto.
func TestIsCanonicalNameEachByte(t *testing.T) {
	for n := 0; n <= 24; n++ {
		base := []byte(("Abc-Defgh-Ij-Klmnop-Qrstuvwxyz")[:n])
		check := func(b []byte) {
			name := string(b)
			want := refIsCanonical(name)
			if got := h1.IsCanonicalName(name); got != want {
				t.Fatalf("IsCanonicalName(%q) = %v, want %v", name, got, want)
			}
			if h1.ValidFieldName(name) && want != (textproto.CanonicalMIMEHeaderKey(name) == name) {
				t.Fatalf("%q: the byte loop says canonical %v, textproto %q", name, want, textproto.CanonicalMIMEHeaderKey(name))
			}
		}
		check(base)
		for pos := range n {
			for c := range 256 {
				b := slices.Clone(base)
				b[pos] = byte(c)
				check(b)
				if pos > 0 {
					b[pos-1] = '-'
					check(b)
				}
			}
		}
	}
}
