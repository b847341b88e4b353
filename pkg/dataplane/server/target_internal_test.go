package server

import (
	"net/url"
	"testing"
)

// The fast path of parseTarget must give the URL url.ParseRequestURI
// gives, or leave the target to it.
func TestPlainTargetAgreesWithParseRequestURI(t *testing.T) {
	for _, target := range []string{
		"/", "/a/b", "/a?", "/a??", "/a?b=c&d", "/a?b#c", "/a#b", "//host/p", "/a:b@c;d=e,f$g&h+i",
		"/%41", "/a b", "/a\x7f", "/a?\x01", "/é", "/a?é", "*", "example.com:443", "/a!b", "/a'b", "/(x)*",
	} {
		want, werr := url.ParseRequestURI(target)
		path, query, ok := plainTarget(target)
		if !ok {
			continue
		}
		if werr != nil {
			t.Errorf("%q: plain, but url.ParseRequestURI refuses it: %v", target, werr)
			continue
		}
		got := url.URL{Path: path, RawQuery: query, ForceQuery: query == "" && len(path) < len(target)}
		if got != *want {
			t.Errorf("%q: plain gives %#v, url.ParseRequestURI %#v", target, got, *want)
		}
	}
}

func FuzzPlainTarget(f *testing.F) {
	for _, s := range []string{"/", "/a?b", "/a??", "/a?", "/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		path, query, ok := plainTarget(target)
		if !ok {
			return
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%q: plain, but url.ParseRequestURI refuses it: %v", target, err)
		}
		got := url.URL{Path: path, RawQuery: query, ForceQuery: query == "" && len(path) < len(target)}
		if got != *want {
			t.Fatalf("%q: plain gives %#v, url.ParseRequestURI %#v", target, got, *want)
		}
	})
}
