package router

import (
	"fmt"
	"sort"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Match is the route a request matched and the index of its upstream in
// the snapshot's Upstreams.
type Match struct {
	Route    *snapshot.Route
	Upstream int
}

// Table is a compiled, immutable route table.
type Table struct {
	exact      map[string]*hostRoutes
	wildcard   map[string]*hostRoutes // keyed by the suffix after "*."
	catchAll   *hostRoutes
	defaultBkd *Match
}

// hostRoutes are the routes of one virtual host, ready to match.
type hostRoutes struct {
	exact    map[string]Match
	prefixes []prefixRoute // longest first
}

type prefixRoute struct {
	prefix string // without trailing slash; "" is "/"
	match  Match
}

// maxHostLen bounds the stack buffer hosts are lower-cased into; longer
// names are not valid DNS names and cannot match.
const maxHostLen = 255

// Compile builds the table of s. It refuses snapshots a producer must never
// send, so that Apply keeps the previous table instead.
func Compile(s *snapshot.Snapshot) (*Table, error) {
	index := make(map[string]int, len(s.Upstreams))
	for i, u := range s.Upstreams {
		index[u.Name] = i
	}
	t := &Table{exact: map[string]*hostRoutes{}, wildcard: map[string]*hostRoutes{}}
	for i := range s.Hosts {
		if err := t.addHost(&s.Hosts[i], index); err != nil {
			return nil, err
		}
	}
	if s.DefaultBackend != nil {
		m, err := compileMatch(s.DefaultBackend, index)
		if err != nil {
			return nil, fmt.Errorf("default backend: %w", err)
		}
		t.defaultBkd = &m
	}
	return t, nil
}

func (t *Table) addHost(vh *snapshot.VirtualHost, index map[string]int) error {
	hr, err := compileHost(vh, index)
	if err != nil {
		return err
	}
	name := strings.ToLower(vh.Name)
	switch {
	case name == "":
		if t.catchAll != nil {
			return fmt.Errorf("duplicate catch-all host")
		}
		t.catchAll = hr
		return nil
	case strings.HasPrefix(name, "*."):
		return addUnique(t.wildcard, name[2:], vh.Name, hr)
	case strings.Contains(name, "*"):
		return fmt.Errorf("host %q: a wildcard must be the whole first label", vh.Name)
	}
	return addUnique(t.exact, name, vh.Name, hr)
}

func addUnique(m map[string]*hostRoutes, key, name string, hr *hostRoutes) error {
	if key == "" || len(key) > maxHostLen {
		return fmt.Errorf("host %q is not a valid name", name)
	}
	if _, dup := m[key]; dup {
		return fmt.Errorf("duplicate host %q", name)
	}
	m[key] = hr
	return nil
}

func compileHost(vh *snapshot.VirtualHost, index map[string]int) (*hostRoutes, error) {
	hr := &hostRoutes{exact: map[string]Match{}}
	for i := range vh.Routes {
		r := &vh.Routes[i]
		if r.Path == "" || r.Path[0] != '/' {
			return nil, fmt.Errorf("host %q: path %q must start with '/'", vh.Name, r.Path)
		}
		m, err := compileMatch(r, index)
		if err != nil {
			return nil, fmt.Errorf("host %q path %q: %w", vh.Name, r.Path, err)
		}
		if r.PathType == snapshot.PathExact {
			if _, dup := hr.exact[r.Path]; !dup {
				hr.exact[r.Path] = m
			}
			continue
		}
		hr.prefixes = append(hr.prefixes, prefixRoute{prefix: strings.TrimRight(r.Path, "/"), match: m})
	}
	// Stable: of two routes with the same prefix the first one listed wins,
	// and the producer lists the oldest Ingress first.
	sort.SliceStable(hr.prefixes, func(i, j int) bool { return len(hr.prefixes[i].prefix) > len(hr.prefixes[j].prefix) })
	return hr, nil
}

func compileMatch(r *snapshot.Route, index map[string]int) (Match, error) {
	i, ok := index[r.Upstream]
	if !ok {
		return Match{}, fmt.Errorf("unknown upstream %q", r.Upstream)
	}
	return Match{Route: r, Upstream: i}, nil
}

// Match finds the route of a request. host may carry a port and any case.
func (t *Table) Match(host, path string) (Match, bool) {
	if hr := t.selectHost(host); hr != nil {
		if m, ok := hr.match(path); ok {
			return m, true
		}
	}
	if t.defaultBkd != nil {
		return *t.defaultBkd, true
	}
	return Match{}, false
}

func (t *Table) selectHost(host string) *hostRoutes {
	host = stripPort(host)
	if len(host) > maxHostLen {
		return t.catchAll
	}
	var buf [maxHostLen]byte
	lower := buf[:len(host)]
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	lower = trimTrailingDot(lower)
	if hr, ok := t.exact[string(lower)]; ok {
		return hr
	}
	if dot := indexByte(lower, '.'); dot > 0 {
		if hr, ok := t.wildcard[string(lower[dot+1:])]; ok {
			return hr
		}
	}
	return t.catchAll
}

func (hr *hostRoutes) match(path string) (Match, bool) {
	if m, ok := hr.exact[path]; ok {
		return m, true
	}
	for i := range hr.prefixes {
		p := hr.prefixes[i].prefix
		if strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/') {
			return hr.prefixes[i].match, true
		}
	}
	return Match{}, false
}

// stripPort removes ":port" and IPv6 brackets without allocating.
func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			return host[1:end]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		return host[:i]
	}
	return host
}

func trimTrailingDot(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '.' {
		return b[:n-1]
	}
	return b
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
