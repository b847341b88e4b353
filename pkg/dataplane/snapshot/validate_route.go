package snapshot

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The rules for what Gateway API added to Route. Ingress routes leave
// these fields empty and pass them all.

// MaxRegexLen bounds a regular expression's length: RE2 matches in linear
// time, but compiling a huge expression still costs memory per route, and
// Gateway API allows no value longer than this.
const MaxRegexLen = 4096

// MaxWeight is the largest backend weight (Gateway API's own limit); it
// keeps the sums of weighted selection far from overflowing.
const MaxWeight = 1_000_000

// CompileRegex compiles expr the way the data plane matches it: RE2
// syntax, matching the whole subject (anchored at both ends).
func CompileRegex(expr string) (*regexp.Regexp, error) {
	if len(expr) > MaxRegexLen {
		return nil, fmt.Errorf("regular expression longer than %d characters", MaxRegexLen)
	}
	// Compiled alone first: only an expression with balanced groups may be
	// wrapped, or "a)|(b" would escape the anchors.
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("invalid RE2 regular expression %q: %w", expr, err)
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// IsToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of header names and methods.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// CheckHeaderValue refuses values no request or response header can carry
// (control bytes other than tab), and surrounding white space, which
// servers strip before anyone compares the value.
func CheckHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("header value %q contains control byte %#x", v, c)
		}
	}
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("header value %q has leading or trailing white space", v)
	}
	return nil
}

func checkRouteExtras(r *Route) error {
	if r.Method != "" && !IsToken(r.Method) {
		return fmt.Errorf("method %q is not an HTTP token", r.Method)
	}
	for _, h := range r.Headers {
		if err := checkHeaderMatch(h); err != nil {
			return err
		}
	}
	for _, q := range r.QueryParams {
		if err := checkQueryMatch(q); err != nil {
			return err
		}
	}
	if err := checkBackends(r.Backends); err != nil {
		return err
	}
	if err := checkFilters(r); err != nil {
		return err
	}
	return checkTimeoutsAndRetry(r)
}

func checkHeaderMatch(h HeaderMatch) error {
	if !IsToken(h.Name) {
		return fmt.Errorf("header match: name %q is not an HTTP token", h.Name)
	}
	if h.Regex {
		_, err := CompileRegex(h.Value)
		return wrapf(err, "header match %s", h.Name)
	}
	return wrapf(CheckHeaderValue(h.Value), "header match %s", h.Name)
}

func checkQueryMatch(q QueryMatch) error {
	if q.Name == "" {
		return errors.New("query match: empty parameter name")
	}
	if q.Regex {
		_, err := CompileRegex(q.Value)
		return wrapf(err, "query match %s", q.Name)
	}
	return nil
}

func checkBackends(backends []WeightedBackend) error {
	for _, b := range backends {
		if b.Invalid && b.Upstream != "" {
			return fmt.Errorf("invalid backend names upstream %s", b.Upstream)
		}
		if b.Upstream == "" && !b.Invalid {
			return errors.New("backend without an upstream name")
		}
		if b.Weight < 0 || b.Weight > MaxWeight {
			return fmt.Errorf("backend %s: weight %d is not between 0 and %d", b.Upstream, b.Weight, MaxWeight)
		}
	}
	return nil
}

func checkTimeoutsAndRetry(r *Route) error {
	if r.Timeouts.Request < 0 || r.Timeouts.BackendRequest < 0 {
		return errors.New("timeouts must not be negative")
	}
	if rt := r.Retry; rt != nil {
		if rt.Attempts < 0 || rt.Backoff < 0 {
			return errors.New("retry: attempts and backoff must not be negative")
		}
		for _, c := range rt.Codes {
			if c < 400 || c > 599 {
				return fmt.Errorf("retry: status %d is not between 400 and 599", c)
			}
		}
	}
	return nil
}

// wrapf prefixes err with a context, and keeps nil nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
