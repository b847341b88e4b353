package snapshot

import (
	"errors"
	"fmt"
	"strings"
)

// The rules in this file are the data plane's: it refuses a snapshot that
// breaks one of them. Producers call the same functions on every host,
// path and route before they emit it, so that what the data plane would
// refuse is dropped at its source, with a reason, instead of making the
// whole snapshot unusable.

// MaxHostLen is the longest DNS name (RFC 1035).
const MaxHostLen = 253

// MaxLabelLen is the longest DNS label (RFC 1035).
const MaxLabelLen = 63

// NormaliseHost returns name ASCII lower-cased, as hosts are compared, or
// an error unless it is a DNS name (labels of 1 to 63 letters, digits, '-'
// and '_', at most 253 characters) or a wildcard "*." followed by one.
// Hosts are compared byte for byte on the hot path, so anything else could
// never match as its author meant. "" (the catch-all host) is not a name.
func NormaliseHost(name string) (string, error) {
	name = LowerASCII(name)
	if len(name) > MaxHostLen {
		return "", fmt.Errorf("host %q is longer than %d characters", name, MaxHostLen)
	}
	for label := range strings.SplitSeq(strings.TrimPrefix(name, "*."), ".") {
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("host %q: %w", name, err)
		}
	}
	return name, nil
}

func checkLabel(label string) error {
	if label == "" || len(label) > MaxLabelLen {
		return fmt.Errorf("every label must have 1 to %d characters", MaxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		switch c := label[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '*':
			return errors.New("a wildcard must be the whole first label, as in *.example.com")
		default:
			return fmt.Errorf("character %q is not allowed in a host name", c)
		}
	}
	return nil
}

// LowerASCII lower-cases the ASCII letters of s only, as hosts are
// compared; it allocates only when s has an upper-case letter.
func LowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// CheckPath refuses route paths that no cleaned request path can match:
// the data plane matches paths after removing dot segments and duplicate
// slashes, and never sees a query, a fragment or a raw control byte.
func CheckPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return errors.New("the path must start with '/'")
	}
	for _, c := range path {
		if c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			return fmt.Errorf("the path must not contain %q", c)
		}
	}
	for _, seq := range []string{"//", "/./", "/../"} {
		if strings.Contains(path, seq) {
			return fmt.Errorf("the path must not contain %q", seq)
		}
	}
	if strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") {
		return errors.New("the path must not end in a dot segment")
	}
	if AmbiguousPath(path) {
		return errors.New(`the path must not contain a backslash or a ".." or "." segment with parameters (";")`)
	}
	return nil
}

// AmbiguousPath reports a path a backend may resolve to one outside
// the route it matched: a backslash (IIS, and servers set to allow it,
// take it for '/'), or a segment that is "." or ".." once its path
// parameters (from the first ';') are dropped, as Tomcat and Jetty do:
// they serve "/public/..;/admin" as "/admin". The data plane refuses such
// request paths (decoded, so %5C and %2e%2e; are caught too) and such
// route paths alike. Other ';' uses ("/a;v=1/b") are left alone.
func AmbiguousPath(p string) bool {
	if strings.IndexByte(p, '\\') >= 0 {
		return true
	}
	for {
		semi := strings.IndexByte(p, ';')
		if semi < 0 {
			return false
		}
		name := p[strings.LastIndexByte(p[:semi], '/')+1 : semi]
		if name == "." || name == ".." {
			return true
		}
		next := strings.IndexByte(p[semi:], '/') // the next segment
		if next < 0 {
			return false
		}
		p = p[semi+next:]
	}
}

// CheckRoute applies the path rules, knows the path types, and checks
// the Gateway API fields (see validate_route.go); whether Upstream,
// Backends and Mirrors name upstreams of the snapshot is the caller's to
// check.
func CheckRoute(r *Route) error {
	if err := checkRoutePath(r); err != nil {
		return err
	}
	return checkRouteExtras(r)
}

func checkRoutePath(r *Route) error {
	switch r.PathType {
	case PathPrefix, PathExact:
		return CheckPath(r.Path)
	case PathRegularExpression:
		if _, err := CompileRegex(r.Path); err != nil {
			return fmt.Errorf("path: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown path type %d", r.PathType)
}
