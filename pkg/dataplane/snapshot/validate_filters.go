package snapshot

import (
	"errors"
	"fmt"
	"strings"
)

func checkFilters(r *Route) error {
	f := r.Filters
	if f == nil {
		return nil
	}
	if err := checkHeaderEdits(f.RequestHeaders); err != nil {
		return fmt.Errorf("request header filter: %w", err)
	}
	if err := checkHeaderEdits(f.ResponseHeaders); err != nil {
		return fmt.Errorf("response header filter: %w", err)
	}
	if err := checkRedirect(r, f.Redirect); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	if err := checkRewrite(r, f.Rewrite); err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	for _, m := range f.Mirrors {
		if m == "" {
			return errors.New("mirror without an upstream name")
		}
	}
	return nil
}

// checkHeaderEdits refuses edits that would write a header no peer can
// parse.
func checkHeaderEdits(e HeaderEdits) error {
	for _, hs := range [][]Header{e.Set, e.Add} {
		for _, h := range hs {
			if !IsToken(h.Name) {
				return fmt.Errorf("header name %q is not an HTTP token", h.Name)
			}
			if err := CheckHeaderValue(h.Value); err != nil {
				return err
			}
		}
	}
	for _, name := range e.Remove {
		if !IsToken(name) {
			return fmt.Errorf("header name %q is not an HTTP token", name)
		}
	}
	return nil
}

func checkRedirect(r *Route, rd *Redirect) error {
	if rd == nil {
		return nil
	}
	switch rd.Scheme {
	case "", "http", "https":
	default:
		return fmt.Errorf("scheme %q is neither http nor https", rd.Scheme)
	}
	switch rd.StatusCode {
	case 0, 301, 302, 303, 307, 308: // Gateway API's; 307 and 308 keep the method (RFC 9110)
	default:
		return fmt.Errorf("status %d is not a redirect status (301, 302, 303, 307, 308)", rd.StatusCode)
	}
	if rd.Port != 0 {
		if err := CheckPort(rd.Port); err != nil {
			return err
		}
	}
	if err := checkTargetHost(rd.Hostname); err != nil {
		return err
	}
	return checkPathModifier(r, rd.Path)
}

func checkRewrite(r *Route, rw *Rewrite) error {
	if rw == nil {
		return nil
	}
	if err := checkTargetHost(rw.Hostname); err != nil {
		return err
	}
	return checkPathModifier(r, rw.Path)
}

// checkTargetHost allows "" (keep the request's host) or one DNS name.
func checkTargetHost(name string) error {
	if name == "" {
		return nil
	}
	if strings.HasPrefix(name, "*") {
		return fmt.Errorf("host name %q must not be a wildcard", name)
	}
	_, err := NormaliseHost(name)
	return err
}

// checkPathModifier: ReplacePrefixMatch needs a prefix the route matched,
// so only Prefix routes may use it; a replacement is an absolute path
// (an empty prefix replacement drops the prefix).
func checkPathModifier(r *Route, pm *PathModifier) error {
	if pm == nil {
		return nil
	}
	switch pm.Type {
	case ReplaceFullPath:
	case ReplacePrefixMatch:
		if r.PathType != PathPrefix {
			return fmt.Errorf("ReplacePrefixMatch needs a Prefix route, not %s", r.PathType)
		}
		if pm.Value == "" {
			return nil
		}
	default:
		return fmt.Errorf("unknown path modifier type %d", pm.Type)
	}
	if !strings.HasPrefix(pm.Value, "/") {
		return fmt.Errorf("replacement path %q must start with '/'", pm.Value)
	}
	for i := 0; i < len(pm.Value); i++ {
		if c := pm.Value[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			return fmt.Errorf("replacement path %q must not contain %q", pm.Value, c)
		}
	}
	return nil
}

// CheckPort refuses a port outside 1-65535.
func CheckPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is not between 1 and 65535", port)
	}
	return nil
}
