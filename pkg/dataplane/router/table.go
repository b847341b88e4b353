package router

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Match is the route a request matched and the index of its upstream in
// the snapshot's Upstreams: the route's Upstream, or the backend of its
// Backends chosen for this request. Upstream is -1 when the route's
// backends all weigh 0; the request is then answered 500.
type Match struct {
	Route    *snapshot.Route
	Upstream int
}

// Table is a compiled, immutable route table. It keeps pointers into the
// snapshot it was compiled from, which must not change afterwards.
type Table struct {
	hosts      hostTable
	defaultBkd *candidate
	// gwAddrs are the gateways' addresses: a connection to one of them is
	// routed by gwPorts alone, never by hosts nor another gateway.
	gwAddrs map[netip.Addr]bool
	gwPorts map[netip.AddrPort]*hostTable
	// splitters let the next table continue each weighted rotation.
	splitters splitters
}

// Compile builds the table of s. It refuses what a producer must never
// send (unknown upstreams, malformed host names and wildcards, duplicate
// hosts, routes snapshot.CheckRoute refuses, gateways
// snapshot.CheckGateways refuses), so that the caller keeps its previous
// table instead of serving a half-understood one.
func Compile(s *snapshot.Snapshot) (*Table, error) {
	return compileAfter(s, maxScannedPrefixes, nil)
}

// compile is Compile with the prefix count above which a host indexes its
// prefixes; tests lower it to run every case through both matchers.
func compile(s *snapshot.Snapshot, scanLimit int) (*Table, error) {
	return compileAfter(s, scanLimit, nil)
}

// compileAfter compiles s to replace prev (nil: none), whose weighted
// rotations the new table continues.
func compileAfter(s *snapshot.Snapshot, scanLimit int, prev *Table) (*Table, error) {
	if err := s.CheckLists(); err != nil {
		return nil, err
	}
	t := &Table{}
	c := &compiler{index: &cowMap[int]{}, scanLimit: scanLimit, next: &t.splitters}
	if prev != nil {
		c.prev = &prev.splitters
	}
	for i, u := range s.AllUpstreams() {
		if c.index.has(u.Name) {
			return nil, fmt.Errorf("duplicate upstream %q", u.Name)
		}
		c.index.set(u.Name, i)
	}
	if err := c.compileHosts(&t.hosts, s.HostSlice(), ""); err != nil {
		return nil, err
	}
	if s.DefaultBackend != nil {
		d, err := c.defaultBackend(s.DefaultBackend)
		if err != nil {
			return nil, fmt.Errorf("default backend (from %s): %w", s.DefaultBackend.Source, err)
		}
		t.defaultBkd = &d
	}
	if err := c.addGateways(t, s.Gateways); err != nil {
		return nil, err
	}
	return t, nil
}

// compiler holds what compiling one snapshot shares across its hosts.
type compiler struct {
	index     *cowMap[int] // upstream index by name
	scanLimit int
	prev      *splitters // of the table being replaced (nil: none)
	next      *splitters // of the table being built
	// group and splits are the splitters of the host being compiled.
	group  string
	splits routeSplitters
}

// startSplits collects the splitters of the routes compiled next as
// group's, until keepSplits.
func (c *compiler) startSplits(group string) {
	c.group, c.splits = group, nil
}

// keepSplits makes the splitters collected since startSplits their
// group's in the table being built, in place of any it had there.
func (c *compiler) keepSplits() {
	if c.splits != nil {
		c.next.set(c.group, c.splits)
	} else {
		c.next.delete(c.group)
	}
	c.splits = nil
}

// defaultBackend compiles the default backend, with its splitter group.
func (c *compiler) defaultBackend(r *snapshot.Route) (candidate, error) {
	c.startSplits(defaultSplitGroup)
	defer c.keepSplits()
	return c.candidate(r, "", "")
}

// removeHost undoes addHost for an Ingress host of the table in force,
// and drops its splitters.
func (c *compiler) removeHost(ht *hostTable, name string) {
	ht.removeHost(name)
	c.next.delete(splitGroup("", name))
}

// Match finds the route of a request on a connection of no gateway. host
// is the Host header (any case, with or without a port); path is the
// decoded, cleaned URL path. Routes with a method, header or query
// matcher never match here: use MatchFields.
//
// The default backend serves only requests whose host no virtual host
// names. A named host is owned by the Ingresses that declare it: a path
// they do not route gets 404 (or the host's own "/" route), never
// another tenant's backend with this host's cookies.
func (t *Table) Match(host, path string) (Match, bool) {
	return t.match(&request{host: host, path: path})
}

// MatchFields finds the route of req, whose URL.Path must be decoded and
// cleaned (RequestFilter does it); header matches read fields, the
// proxy's Session.RequestHeader (the HTTP/1 server makes no header map
// for the router's phases). A request that arrived on a gateway's address
// (http.LocalAddrContextKey in its context) is routed by that gateway's
// port alone; any other by the hosts, as Match does.
func (t *Table) MatchFields(req *http.Request, fields *proxy.RequestHeader) (Match, bool) {
	return t.matchRequest(&request{host: req.Host, path: req.URL.Path, method: req.Method, rawQuery: req.URL.RawQuery, fields: fields}, req)
}

func (t *Table) matchRequest(r *request, req *http.Request) (Match, bool) {
	if t.gwAddrs != nil {
		if local, ok := localAddr(req.Context()); ok && t.gwAddrs[local.Addr()] {
			return t.gwPorts[local].match(r)
		}
	}
	return t.match(r)
}

func (t *Table) match(r *request) (Match, bool) {
	hr, named := t.hosts.selectHost(r.host)
	if hr != nil {
		if m, ok := hr.match(r); ok {
			return m, true
		}
	}
	if !named && t.defaultBkd != nil {
		return t.defaultBkd.resolve(), true
	}
	return Match{}, false
}

// hostTable holds the virtual hosts of the Ingress side, or of one port
// of a gateway.
type hostTable struct {
	exact    hostMap
	wildcard hostMap // keyed by the suffix after "*."
	catchAll *hostRoutes
	// deepWildcards: "*.a.com" covers names of any number of labels
	// before "a.com" (Gateway API), not exactly one (Ingress).
	deepWildcards bool
}

// compileHosts fills ht with hosts; scope names where they are served
// (a gateway port, or "" for Ingress).
func (c *compiler) compileHosts(ht *hostTable, hosts []snapshot.VirtualHost, scope string) error {
	ht.exact, ht.wildcard = hostMap{}, hostMap{}
	for i := range hosts {
		if err := c.addHost(ht, &hosts[i], scope); err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) addHost(ht *hostTable, vh *snapshot.VirtualHost, scope string) error {
	hr, err := c.compileHost(vh, scope)
	if err != nil {
		return err
	}
	if vh.Name == "" {
		if ht.catchAll != nil {
			return errors.New("duplicate catch-all host")
		}
		ht.catchAll = hr
		return nil
	}
	name, err := normaliseHostName(vh.Name)
	if err != nil {
		return err
	}
	m, key := &ht.exact, name
	if suffix, ok := strings.CutPrefix(name, "*."); ok {
		m, key = &ht.wildcard, suffix
	}
	if m.has(key) {
		return fmt.Errorf("duplicate host %q", vh.Name)
	}
	m.set(key, hr)
	return nil
}

// match routes r among the hosts of a gateway port; a nil table (a port
// the gateway does not serve) routes nothing.
func (ht *hostTable) match(r *request) (Match, bool) {
	if ht == nil {
		return Match{}, false
	}
	if hr, _ := ht.selectHost(r.host); hr != nil {
		return hr.match(r)
	}
	return Match{}, false
}

// selectHost picks the virtual host: exact name, then a wildcard (the
// longest suffix first), then the catch-all. named tells whether a named
// host was found; a named host is final even if none of its paths match,
// as with the server blocks of ingress-nginx and Envoy's virtual hosts.
func (ht *hostTable) selectHost(host string) (hr *hostRoutes, named bool) {
	var buf [maxHostLen]byte
	key, ok := hostKey(&buf, host)
	if !ok {
		return ht.catchAll, false
	}
	if hr, ok := ht.exact.get(key); ok {
		return hr, true
	}
	for dot := indexByte(key, '.'); dot > 0; dot = indexByte(key, '.') {
		key = key[dot+1:]
		if hr, ok := ht.wildcard.get(key); ok {
			return hr, true
		}
		if !ht.deepWildcards {
			break
		}
	}
	return ht.catchAll, false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func errUnknownUpstream(name string) error {
	return fmt.Errorf("unknown upstream %q", name)
}
