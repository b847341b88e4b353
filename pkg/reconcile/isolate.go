package reconcile

import (
	"sort"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Checker is implemented by a Sink that can tell, without applying it,
// whether it would accept a snapshot. With it, a snapshot the sink refuses
// costs only the parts it refuses: the controller isolates them and
// applies the rest, instead of retrying the same refused snapshot while
// every later change of everyone waits behind it.
type Checker interface {
	Check(*snapshot.Snapshot) error
}

// partKind is what a part of a snapshot is.
type partKind uint8

const (
	partUpstream partKind = iota
	partCertificate
	partDefaultCertificate
	partRoutes
	partDefaultBackend
	// partGateway is one Gateway API Gateway, its routes and certificates
	// together: a Gateway is one tenant's, so it stands or falls alone.
	partGateway
)

// part is a piece of a snapshot that can be left out on its own: one
// upstream (by Name), one certificate (by Source), the routes of one
// source object (by Source), the default backend or default certificate.
type part struct {
	kind partKind
	name string
}

func (p part) String() string {
	kind := [...]string{"upstream", "certificate", "default certificate", "routes of", "default backend of", "gateway"}[p.kind]
	if p.name == "" {
		return kind
	}
	return kind + " " + p.name
}

// rejection is a part the sink refused, with its error.
type rejection struct {
	part part
	err  error
}

// parts lists the parts of s, upstreams first so that a broken upstream is
// blamed on itself rather than on every route using it.
func parts(s *snapshot.Snapshot) []part {
	seen := map[part]bool{}
	var out []part
	add := func(p part) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, u := range s.AllUpstreams() {
		add(part{partUpstream, u.Name})
	}
	for _, c := range s.Certificates {
		add(part{partCertificate, c.Source})
	}
	if s.DefaultCertificate != nil {
		add(part{kind: partDefaultCertificate})
	}
	var sources []string
	for _, vh := range s.AllHosts() {
		for _, r := range vh.Routes {
			sources = append(sources, r.Source)
		}
	}
	sort.Strings(sources)
	for _, src := range sources {
		add(part{partRoutes, src})
	}
	if s.DefaultBackend != nil {
		add(part{partDefaultBackend, s.DefaultBackend.Source})
	}
	for _, g := range s.Gateways {
		add(part{partGateway, g.Name})
	}
	return out
}

// restrict returns a copy of s with only the parts in keep. A route is
// kept when its source and its upstream are; a host left without routes
// is dropped.
func restrict(s *snapshot.Snapshot, keep map[part]bool) *snapshot.Snapshot {
	out := &snapshot.Snapshot{Version: s.Version}
	for _, u := range s.AllUpstreams() {
		if keep[part{partUpstream, u.Name}] {
			out.Upstreams = append(out.Upstreams, *u)
		}
	}
	for _, vh := range s.AllHosts() {
		kept := snapshot.VirtualHost{Name: vh.Name}
		for _, r := range vh.Routes {
			if keep[part{partRoutes, r.Source}] && upstreamsKept(&r, keep) {
				kept.Routes = append(kept.Routes, r)
			}
		}
		if len(kept.Routes) > 0 {
			out.Hosts = append(out.Hosts, kept)
		}
	}
	for _, c := range s.Certificates {
		if keep[part{partCertificate, c.Source}] {
			out.Certificates = append(out.Certificates, c)
		}
	}
	if keep[part{kind: partDefaultCertificate}] {
		out.DefaultCertificate = s.DefaultCertificate
	}
	if d := s.DefaultBackend; d != nil && keep[part{partDefaultBackend, d.Source}] && keep[part{partUpstream, d.Upstream}] {
		out.DefaultBackend = d
	}
	for _, g := range s.Gateways {
		if keep[part{partGateway, g.Name}] {
			out.Gateways = append(out.Gateways, restrictGateway(g, keep))
		}
	}
	return out
}

// restrictGateway drops the routes of g that name an upstream not kept.
func restrictGateway(g snapshot.Gateway, keep map[part]bool) snapshot.Gateway {
	out := g
	out.Ports = make([]snapshot.GatewayPort, len(g.Ports))
	for i, p := range g.Ports {
		out.Ports[i] = p
		out.Ports[i].Hosts = nil
		for _, vh := range p.Hosts {
			kept := snapshot.VirtualHost{Name: vh.Name}
			for _, r := range vh.Routes {
				if upstreamsKept(&r, keep) {
					kept.Routes = append(kept.Routes, r)
				}
			}
			if len(kept.Routes) > 0 {
				out.Ports[i].Hosts = append(out.Ports[i].Hosts, kept)
			}
		}
	}
	return out
}

func upstreamsKept(r *snapshot.Route, keep map[part]bool) bool {
	for _, n := range routeUpstreams(r) {
		if !keep[part{partUpstream, n}] {
			return false
		}
	}
	return true
}

// routeUpstreams lists the upstreams r sends requests to: its Upstream,
// or its weighted Backends (Gateway API routes, Ingress canaries), and
// its mirrors.
func routeUpstreams(r *snapshot.Route) []string {
	names := []string{}
	if len(r.Backends) == 0 && r.Upstream != "" {
		names = append(names, r.Upstream)
	}
	for _, b := range r.Backends {
		if !b.Invalid { // names no upstream: nothing to keep
			names = append(names, b.Upstream)
		}
	}
	if r.Filters != nil {
		names = append(names, r.Filters.Mirrors...)
	}
	return names
}

// isolate finds the largest part of s that check accepts, adding parts
// group by group and splitting a group that is refused until the refused
// parts stand alone: about (refused parts × log parts) checks. Every part
// it keeps was checked together with all the others kept before it, so
// the result is accepted as a whole. It returns nil when check refuses
// even an empty snapshot (the sink itself is broken).
func isolate(s *snapshot.Snapshot, check func(*snapshot.Snapshot) error) (*snapshot.Snapshot, []rejection) {
	keep := map[part]bool{}
	if check(restrict(s, keep)) != nil {
		return nil, nil
	}
	var rejected []rejection
	var add func(ps []part)
	add = func(ps []part) {
		for _, p := range ps {
			keep[p] = true
		}
		err := check(restrict(s, keep))
		if err == nil {
			return
		}
		for _, p := range ps {
			delete(keep, p)
		}
		if len(ps) == 1 {
			rejected = append(rejected, rejection{part: ps[0], err: err})
			return
		}
		add(ps[:len(ps)/2])
		add(ps[len(ps)/2:])
	}
	add(parts(s))
	return restrict(s, keep), rejected
}
