package router

import (
	"fmt"
	"sort"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// maxScannedPrefixes is how many Prefix routes a host may have before its
// prefixes are indexed by path instead of scanned: a scan of a few short
// strings beats hashing, an index lookup per path element beats scanning
// hundreds of routes.
const maxScannedPrefixes = 16

// hostRoutes are the routes of one virtual host, ready to match.
type hostRoutes struct {
	exact    map[string]Match
	prefixes []prefixRoute // longest first; scanned when byPrefix is nil
	byPrefix map[string]Match
}

// prefixRoute is a Prefix route whose path lost its trailing slashes, so
// "/" is "" and "/aaa/" is "/aaa".
type prefixRoute struct {
	prefix string
	match  Match
}

func compileHost(vh *snapshot.VirtualHost, index map[string]int, scanLimit int) (*hostRoutes, error) {
	hr := &hostRoutes{exact: map[string]Match{}}
	for i := range vh.Routes {
		r := &vh.Routes[i]
		m, err := compileRoute(r, index)
		if err != nil {
			return nil, fmt.Errorf("host %q path %q (from %s): %w", vh.Name, r.Path, r.Source, err)
		}
		// Of two routes for the same path the first one listed wins: the
		// producer resolves conflicts and lists the winner first.
		if r.PathType == snapshot.PathExact {
			if _, dup := hr.exact[r.Path]; !dup {
				hr.exact[r.Path] = m
			}
			continue
		}
		hr.prefixes = append(hr.prefixes, prefixRoute{prefix: strings.TrimRight(r.Path, "/"), match: m})
	}
	sort.SliceStable(hr.prefixes, func(i, j int) bool { return len(hr.prefixes[i].prefix) > len(hr.prefixes[j].prefix) })
	if len(hr.prefixes) > scanLimit {
		hr.byPrefix = make(map[string]Match, len(hr.prefixes))
		for _, p := range hr.prefixes {
			if _, dup := hr.byPrefix[p.prefix]; !dup {
				hr.byPrefix[p.prefix] = p.match
			}
		}
	}
	return hr, nil
}

func compileRoute(r *snapshot.Route, index map[string]int) (Match, error) {
	if err := snapshot.CheckRoute(r); err != nil {
		return Match{}, err
	}
	return compileMatch(r, index)
}

func compileMatch(r *snapshot.Route, index map[string]int) (Match, error) {
	i, ok := index[r.Upstream]
	if !ok {
		return Match{}, fmt.Errorf("unknown upstream %q", r.Upstream)
	}
	return Match{Route: r, Upstream: i}, nil
}

// match applies the host's path rules: the longest match wins, and a whole
// path equal to an Exact route is longer than any Prefix match of it, so
// Exact routes are tried first.
func (hr *hostRoutes) match(path string) (Match, bool) {
	if len(hr.exact) > 0 {
		if m, ok := hr.exact[path]; ok {
			return m, true
		}
	}
	if hr.byPrefix != nil {
		return hr.lookupPrefix(path)
	}
	for i := range hr.prefixes {
		if p := hr.prefixes[i].prefix; elementPrefix(path, p) {
			return hr.prefixes[i].match, true
		}
	}
	return Match{}, false
}

// elementPrefix reports whether p names path or one of its ancestors when
// both are split at '/'.
func elementPrefix(path, p string) bool {
	return strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/')
}

// lookupPrefix tries path and then each shorter path ending before a '/':
// exactly the prefixes elementPrefix accepts, longest first.
func (hr *hostRoutes) lookupPrefix(path string) (Match, bool) {
	for {
		if m, ok := hr.byPrefix[path]; ok {
			return m, true
		}
		slash := strings.LastIndexByte(path, '/')
		if slash < 0 {
			return Match{}, false
		}
		path = path[:slash]
	}
}
