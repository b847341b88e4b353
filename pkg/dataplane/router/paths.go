package router

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// maxScannedPrefixes is how many Prefix paths a host may have before its
// prefixes are indexed by path instead of scanned: a scan of a few short
// strings beats hashing, an index lookup per path element beats scanning
// hundreds of routes.
const maxScannedPrefixes = 16

// hostRoutes are the routes of one virtual host, ready to match. Routes
// of one path are grouped, in precedence order, so a host of Ingress
// routes (one plain route per path) costs what it did before there were
// other matchers.
type hostRoutes struct {
	exact    map[string]candidates
	regexes  []regexRoute  // longest expression first, then by precedence
	prefixes []prefixRoute // longest first; scanned when byPrefix is nil
	byPrefix map[string]candidates
}

// prefixRoute are the Prefix routes of one path, which lost its trailing
// slashes, so "/" is "" and "/aaa/" is "/aaa".
type prefixRoute struct {
	prefix string
	cands  candidates
}

type regexRoute struct {
	re   *regexp.Regexp
	size int // length of the expression, its precedence
	cand candidate
}

func (c *compiler) compileHost(vh *snapshot.VirtualHost, scope string) (*hostRoutes, error) {
	c.startSplits(splitGroup(scope, vh.Name))
	defer c.keepSplits()
	hr := &hostRoutes{exact: map[string]candidates{}}
	prefixAt := map[string]int{}
	for i := range vh.Routes {
		r := &vh.Routes[i]
		cand, err := c.compileRoute(r, scope, vh.Name)
		if err != nil {
			return nil, fmt.Errorf("host %q path %q (from %s): %w", vh.Name, r.Path, r.Source, err)
		}
		switch r.PathType {
		case snapshot.PathExact:
			hr.exact[r.Path] = append(hr.exact[r.Path], cand)
		case snapshot.PathRegularExpression:
			re, _ := snapshot.CompileRegex(r.Path) // compileRoute checked it
			hr.regexes = append(hr.regexes, regexRoute{re: re, size: len(r.Path), cand: cand})
		default:
			p := strings.TrimRight(r.Path, "/")
			if j, ok := prefixAt[p]; ok {
				hr.prefixes[j].cands = append(hr.prefixes[j].cands, cand)
				continue
			}
			prefixAt[p] = len(hr.prefixes)
			hr.prefixes = append(hr.prefixes, prefixRoute{prefix: p, cands: candidates{cand}})
		}
	}
	hr.sort()
	if len(hr.prefixes) > c.scanLimit {
		hr.byPrefix = make(map[string]candidates, len(hr.prefixes))
		for _, p := range hr.prefixes {
			hr.byPrefix[p.prefix] = p.cands
		}
	}
	return hr, nil
}

// sort puts the routes in precedence order (see snapshot.Route). Sorts are
// stable: of two routes equal in every rule the first listed wins, as the
// producer resolves conflicts by listing the winner first.
func (hr *hostRoutes) sort() {
	for _, cs := range hr.exact {
		cs.sort()
	}
	for _, p := range hr.prefixes {
		p.cands.sort()
	}
	sort.SliceStable(hr.prefixes, func(i, j int) bool { return len(hr.prefixes[i].prefix) > len(hr.prefixes[j].prefix) })
	sort.SliceStable(hr.regexes, func(i, j int) bool {
		a, b := &hr.regexes[i], &hr.regexes[j]
		if a.size != b.size {
			return a.size > b.size
		}
		return a.cand.outranks(&b.cand)
	})
}

func (cs candidates) sort() {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].outranks(&cs[j]) })
}

func (c *compiler) compileRoute(r *snapshot.Route, scope, host string) (candidate, error) {
	if err := snapshot.CheckRoute(r); err != nil {
		return candidate{}, err
	}
	return c.candidate(r, scope, host)
}

// candidate resolves r's upstreams and compiles its matchers.
func (c *compiler) candidate(r *snapshot.Route, scope, host string) (candidate, error) {
	m := Match{Route: r}
	switch {
	case snapshot.RedirectOnly(r):
		m.Upstream = -1 // never read: the redirect answers every request
	case len(r.Backends) == 0:
		i, ok := c.index.lookup(r.Upstream)
		if !ok {
			return candidate{}, errUnknownUpstream(r.Upstream)
		}
		m.Upstream = i
	}
	if f := r.Filters; f != nil {
		for _, name := range f.Mirrors {
			if !c.index.has(name) {
				return candidate{}, fmt.Errorf("mirror: %w", errUnknownUpstream(name))
			}
		}
	}
	cand, err := compileCandidate(r, m)
	if err != nil || len(r.Backends) == 0 {
		return cand, err
	}
	if err := compileBackends(r, &cand, c.index); err != nil {
		return cand, err
	}
	if cand.split != nil {
		key := splitKey(scope, host, r)
		carry(c.prev, c.group, key, cand.split)
		if c.splits == nil {
			c.splits = routeSplitters{}
		}
		c.splits[key] = cand.split
	}
	return cand, nil
}

// match applies the host's path rules: an Exact path first, then regular
// expressions, then the longest Prefix; within a path, the first route
// (in precedence order) whose other matchers accept the request.
func (hr *hostRoutes) match(r *request) (Match, bool) {
	if len(hr.exact) > 0 {
		if cs, ok := hr.exact[r.path]; ok {
			if m, ok := cs.pick(r); ok {
				return m, true
			}
		}
	}
	for i := range hr.regexes {
		rr := &hr.regexes[i]
		// The cheap matchers first: most requests fail on them.
		if (rr.cand.plain || rr.cand.accepts(r)) && rr.re.MatchString(r.path) {
			return rr.cand.resolve(), true
		}
	}
	if hr.byPrefix != nil {
		return hr.lookupPrefix(r)
	}
	for i := range hr.prefixes {
		if elementPrefix(r.path, hr.prefixes[i].prefix) {
			if m, ok := hr.prefixes[i].cands.pick(r); ok {
				return m, true
			}
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
func (hr *hostRoutes) lookupPrefix(r *request) (Match, bool) {
	path := r.path
	for {
		if cs, ok := hr.byPrefix[path]; ok {
			if m, ok := cs.pick(r); ok {
				return m, true
			}
		}
		slash := strings.LastIndexByte(path, '/')
		if slash < 0 {
			return Match{}, false
		}
		path = path[:slash]
	}
}
