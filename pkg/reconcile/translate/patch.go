package translate

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// patch returns the snapshot: the last one if nothing in it changed, else
// a new one sharing every list (and every host's routes) that did not.
func (x *incremental) patch(g *translator) *snapshot.Snapshot {
	hosts := x.patchHosts()
	ups := x.patchUpstreams()
	certs := x.patchCertificates()
	def := g.defaultRoute
	if def == nil && x.catchAll != nil {
		def = x.catchAll.catchAll
	}
	prev := x.snap
	if prev != nil && !hosts && !ups && !certs &&
		reflect.DeepEqual(prev.DefaultBackend, def) && reflect.DeepEqual(prev.DefaultCertificate, g.defaultCert) {
		return prev
	}
	s := &snapshot.Snapshot{DefaultBackend: def, DefaultCertificate: g.defaultCert, Changes: x.changesSince(prev)}
	// The lists are persistent: the next call's changes go to copies of
	// the chunks they touch, so this snapshot can have them as they are.
	s.SetHostList(x.hosts)
	s.SetUpstreamList(x.upstreams)
	s.Certificates = sharedOrCopy(prev, certs, x.certList, func(p *snapshot.Snapshot) []snapshot.Certificate { return p.Certificates })
	x.snap = s
	return s
}

// changesSince lists the hosts and upstreams this call may have changed
// since prev, so that a data plane holding prev compiles only those (see
// snapshot.Changes): every other host keeps its Routes slice and every
// other upstream its value. Nil when prev has no version to name, or when
// so much changed that the lists were rebuilt rather than patched.
func (x *incremental) changesSince(prev *snapshot.Snapshot) *snapshot.Changes {
	if prev == nil || prev.Version == 0 || rebuilds(len(x.dirty.hosts), x.hosts.Len()) ||
		rebuilds(len(x.dirty.upstreams), x.upstreams.Len()) {
		return nil
	}
	return &snapshot.Changes{Base: prev.Version,
		Hosts: slices.Sorted(maps.Keys(x.dirty.hosts)), Upstreams: slices.Sorted(maps.Keys(x.dirty.upstreams))}
}

// rebuilds tells whether a list of n entries with dirty of them changed
// is rebuilt rather than patched: inserting many one by one would cost
// the square of their number.
func rebuilds(dirty, n int) bool { return dirty > 64 && dirty > n/8 }

// sharedOrCopy is the previous snapshot's list when it did not change, or
// a copy of the patched one (nil when empty, as Translate leaves it): the
// patched list itself is changed in place by later calls.
func sharedOrCopy[T any](prev *snapshot.Snapshot, changed bool, list []T, of func(*snapshot.Snapshot) []T) []T {
	if prev != nil && !changed {
		return of(prev)
	}
	if len(list) == 0 {
		return nil
	}
	return slices.Clone(list)
}

// patchHosts updates the sorted hosts where groups changed, keeping the
// Routes slice of a host whose routes are equal, and reports a change.
func (x *incremental) patchHosts() bool {
	if rebuilds(len(x.dirty.hosts), x.hosts.Len()) {
		return x.rebuildHosts()
	}
	changed := false
	for h := range x.dirty.hosts {
		var routes []snapshot.Route
		if g := x.hostGroup[h]; g != nil {
			routes = g.routes(h)
		}
		vh := snapshot.VirtualHost{Name: h, Routes: routes}
		old, found, _ := x.hosts.Find(&vh)
		switch {
		case routes == nil && found:
			x.hosts = x.hosts.Delete(&vh)
		case routes == nil:
			continue
		case found && reflect.DeepEqual(old.Routes, routes):
			continue // the old slice stays, and with it what the data plane compiled
		default:
			x.hosts = x.hosts.Put(vh)
		}
		changed = true
	}
	return changed
}

func (x *incremental) patchUpstreams() bool {
	if rebuilds(len(x.dirty.upstreams), x.upstreams.Len()) {
		ups := make([]snapshot.Upstream, 0, len(x.upValue))
		for _, u := range x.upValue {
			ups = append(ups, u)
		}
		slices.SortFunc(ups, func(a, b snapshot.Upstream) int { return strings.Compare(a.Name, b.Name) })
		x.upstreams = snapshot.NewUpstreamList(ups)
		return true
	}
	changed := false
	for name := range x.dirty.upstreams {
		u, used := x.upValue[name]
		old, found, _ := x.upstreams.Find(&snapshot.Upstream{Name: name})
		switch {
		case !used && found:
			x.upstreams = x.upstreams.Delete(old)
		case !used, found && reflect.DeepEqual(*old, u):
			continue
		default:
			x.upstreams = x.upstreams.Put(u)
		}
		changed = true
	}
	return changed
}

// patchCertificates rebuilds each changed certificate from the groups
// serving it: one Secret's certificate may serve the hosts of several.
func (x *incremental) patchCertificates() bool {
	changed := false
	for src := range x.dirty.certs {
		var cert *snapshot.Certificate
		var hosts []string
		for g := range x.certUsers[src] {
			cert = g.cert(src)
			hosts = append(hosts, cert.Hosts...)
		}
		i, found := slices.BinarySearchFunc(x.certList, src, func(c snapshot.Certificate, s string) int { return strings.Compare(c.Source, s) })
		if cert == nil {
			delete(x.certUsers, src)
			if found {
				x.certList = slices.Delete(x.certList, i, i+1)
				changed = true
			}
			continue
		}
		c := *cert
		slices.Sort(hosts)
		c.Hosts = hosts
		var put bool
		x.certList, put = putSorted(x.certList, i, found, c)
		changed = changed || put
	}
	return changed
}

// putSorted puts v at i of a sorted list, where a binary search for its
// key stopped (found: an entry with that key is there): inserted,
// replaced, or left alone when equal; put says whether list changed.
func putSorted[T any](list []T, i int, found bool, v T) (_ []T, put bool) {
	switch {
	case !found:
		return slices.Insert(list, i, v), true
	case reflect.DeepEqual(list[i], v):
		return list, false
	}
	list[i] = v
	return list, true
}

// patchResults updates the results sorted by key. The list is
// persistent, so the last one handed out stays as it was, and an
// unchanged list is returned as it was.
func (x *incremental) patchResults() IngressResults {
	if x.results.Len() == 0 || rebuilds(len(x.dirty.results), x.results.Len()) {
		x.rebuildResults()
		return x.results
	}
	for k := range x.dirty.results {
		g := x.groupOf[k]
		old, found, _ := x.results.Find(&IngressResult{Key: k})
		switch {
		case g == nil && found:
			x.results = x.results.Delete(old)
		case g == nil:
		default:
			if r := g.result(k); !found || !reflect.DeepEqual(*old, r) {
				x.results = x.results.Put(r)
			}
		}
	}
	return x.results
}

// rebuildHosts sorts every host anew, for a call that changed many:
// inserting them one by one would cost the square of their number.
func (x *incremental) rebuildHosts() bool {
	hosts := make([]snapshot.VirtualHost, 0, len(x.hostGroup))
	for h, g := range x.hostGroup {
		hosts = append(hosts, snapshot.VirtualHost{Name: h, Routes: g.routes(h)})
	}
	slices.SortFunc(hosts, func(a, b snapshot.VirtualHost) int { return strings.Compare(a.Name, b.Name) })
	for i := range hosts { // keep the slices of unchanged hosts
		if old, found, _ := x.hosts.Find(&hosts[i]); found && reflect.DeepEqual(old.Routes, hosts[i].Routes) {
			hosts[i].Routes = old.Routes
		}
	}
	x.hosts = snapshot.NewHostList(hosts)
	return true
}

func (x *incremental) rebuildResults() {
	results := make([]IngressResult, 0, len(x.groupOf))
	for k, g := range x.groupOf {
		results = append(results, g.result(k))
	}
	slices.SortFunc(results, func(a, b IngressResult) int { return compareKeys(a.Key, b.Key) })
	x.results = NewIngressResults(results)
}
