package snapshot

import (
	"strings"
	"testing"
)

func TestNormaliseHost(t *testing.T) {
	label63, label64 := strings.Repeat("a", 63), strings.Repeat("a", 64)
	name253 := strings.Repeat("abcdefghi.", 25) + "a.b"
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"Example.COM", "example.com", true},
		{"*.example.com", "*.example.com", true},
		{label63 + ".example.com", label63 + ".example.com", true},
		{label64 + ".example.com", "", false},
		{name253, name253, true},
		{name253 + "c", "", false},
		{"under_score.example.com", "under_score.example.com", true},
		{"trailing.dot.", "", false},
		{"*.*.example.com", "", false},
		{"a*.example.com", "", false},
		{"ex ample.com", "", false},
		{"exämple.com", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		got, err := NormaliseHost(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormaliseHost(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCheckPath(t *testing.T) {
	cases := map[string]bool{
		"/": true, "/api": true, "/api/": true, "/a;v=1/b": true, "/file;jsessionid=x": true, "/x;..;/admin": true,
		"api": false, "": false, "/a b": false, "/a?b": false, "/a#b": false, "/a\x7f": false,
		"//": false, "/a/./b": false, "/a/../b": false, "/a/.": false, "/a/..": false,
		"/public/..;/admin": false, "/.;/admin": false, "/a\\b": false, "/public/..;x": false,
	}
	for path, ok := range cases {
		if err := CheckPath(path); (err == nil) != ok {
			t.Errorf("CheckPath(%q) = %v, want ok %v", path, err, ok)
		}
	}
}

func TestLowerASCII(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "AbC.COM": "abc.com", "ÄB": "Äb"} {
		if got := LowerASCII(in); got != want {
			t.Errorf("LowerASCII(%q) = %q, want %q", in, got, want)
		}
	}
}
