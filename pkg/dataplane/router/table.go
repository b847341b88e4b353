package router

import (
	"fmt"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Match is the route a request matched and the index of its upstream in
// the snapshot's Upstreams.
type Match struct {
	Route    *snapshot.Route
	Upstream int
}

// Table is a compiled, immutable route table. It keeps pointers into the
// snapshot it was compiled from, which must not change afterwards.
type Table struct {
	exact      map[string]*hostRoutes
	wildcard   map[string]*hostRoutes // keyed by the suffix after "*."
	catchAll   *hostRoutes
	defaultBkd *Match
}

// Compile builds the table of s. It refuses what a producer must never
// send (unknown upstreams, malformed host names and wildcards, duplicate
// hosts, paths not starting with '/', unknown path types), so that the
// caller keeps its previous table instead of serving a half-understood one.
func Compile(s *snapshot.Snapshot) (*Table, error) {
	return compile(s, maxScannedPrefixes)
}

// compile is Compile with the prefix count above which a host indexes its
// prefixes; tests lower it to run every case through both matchers.
func compile(s *snapshot.Snapshot, scanLimit int) (*Table, error) {
	index := make(map[string]int, len(s.Upstreams))
	for i, u := range s.Upstreams {
		if _, dup := index[u.Name]; dup {
			return nil, fmt.Errorf("duplicate upstream %q", u.Name)
		}
		index[u.Name] = i
	}
	t := &Table{exact: map[string]*hostRoutes{}, wildcard: map[string]*hostRoutes{}}
	for i := range s.Hosts {
		if err := t.addHost(&s.Hosts[i], index, scanLimit); err != nil {
			return nil, err
		}
	}
	if s.DefaultBackend != nil {
		m, err := compileMatch(s.DefaultBackend, index)
		if err != nil {
			return nil, fmt.Errorf("default backend (from %s): %w", s.DefaultBackend.Source, err)
		}
		t.defaultBkd = &m
	}
	return t, nil
}

func (t *Table) addHost(vh *snapshot.VirtualHost, index map[string]int, scanLimit int) error {
	hr, err := compileHost(vh, index, scanLimit)
	if err != nil {
		return err
	}
	if vh.Name == "" {
		if t.catchAll != nil {
			return fmt.Errorf("duplicate catch-all host")
		}
		t.catchAll = hr
		return nil
	}
	name, err := normaliseHostName(vh.Name)
	if err != nil {
		return err
	}
	m, key := t.exact, name
	if suffix, ok := strings.CutPrefix(name, "*."); ok {
		m, key = t.wildcard, suffix
	}
	if _, dup := m[key]; dup {
		return fmt.Errorf("duplicate host %q", vh.Name)
	}
	m[key] = hr
	return nil
}

// Match finds the route of a request. host is the Host header (any case,
// with or without a port); path is the decoded, cleaned URL path.
//
// The default backend serves only requests whose host no virtual host
// names. A named host is owned by the Ingresses that declare it: a path
// they do not route gets 404 (or the host's own "/" route), never
// another tenant's backend with this host's cookies.
func (t *Table) Match(host, path string) (Match, bool) {
	hr, named := t.selectHost(host)
	if hr != nil {
		if m, ok := hr.match(path); ok {
			return m, true
		}
	}
	if !named && t.defaultBkd != nil {
		return *t.defaultBkd, true
	}
	return Match{}, false
}

// selectHost picks the virtual host: exact name, then a wildcard one label
// up, then the catch-all. named tells whether a named host was found; a
// named host is final even if none of its paths match, as with the server
// blocks of ingress-nginx.
func (t *Table) selectHost(host string) (hr *hostRoutes, named bool) {
	var buf [maxHostLen]byte
	key, ok := hostKey(&buf, host)
	if !ok {
		return t.catchAll, false
	}
	if hr, ok := t.exact[string(key)]; ok {
		return hr, true
	}
	if dot := indexByte(key, '.'); dot > 0 {
		if hr, ok := t.wildcard[string(key[dot+1:])]; ok {
			return hr, true
		}
	}
	return t.catchAll, false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
