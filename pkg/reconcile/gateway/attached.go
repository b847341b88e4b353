package gateway

import (
	"slices"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// attached is what the routes naming one Gateway attached to it, kept
// between calls so that, while the Gateway itself does not change, a
// route's change re-attaches that route (and those it renumbers) and
// rebuilds only the virtual hosts it touches, not the whole Gateway.
type attached struct {
	// order are the routes naming the Gateway, in numbering order.
	order []*routeState
	// routes are what each route attached, by route.
	routes map[routeID]*routeAttachment
	// hosts are, per listener (by index), the routes attached by host.
	hosts []map[string][]hostRoutes
	// counts are the attachments per listener (its attachedRoutes).
	counts []int32
	// snap is the Gateway's last snapshot, if it was Programmed.
	snap *snapshot.Gateway
}

// routeAttachment is what one route attached: its numbering base and the
// listeners and hosts it added its routes to.
type routeAttachment struct {
	st   *routeState
	base int
	// listeners are the listener of each attachment (attachedRoutes
	// counts attachments), places where it added routes.
	listeners []int
	places    []place
}

// place is one host of one listener (by index).
type place struct {
	listener int
	host     string
}

// hostRoutes are one route's routes on one host of one listener.
type hostRoutes struct {
	id     routeID
	routes []snapshot.Route
}

func newAttached(gw *gateway) *attached {
	a := &attached{routes: map[routeID]*routeAttachment{}, hosts: make([]map[string][]hostRoutes, len(gw.listeners)),
		counts: make([]int32, len(gw.listeners))}
	for i := range a.hosts {
		a.hosts[i] = map[string][]hostRoutes{}
	}
	return a
}

// update brings the order up to date with the routes of ch that name (or
// named) gw and renumbers. It returns the routes to detach (changed,
// gone, or renumbered) and those to attach again, with their bases.
func (a *attached) update(o *outputs, gw *gateway, ch *changes) (detach []routeID, attach []numberedState) {
	if detach, attach, ok := a.updateInPlace(o, gw, ch); ok {
		return detach, attach
	}
	members := o.byGateway[gw.key]
	for id := range ch.routes {
		old := a.routes[id]
		_, member := members[id]
		if old != nil {
			a.order = removeState(a.order, old.st)
			detach = append(detach, id)
		}
		if member {
			a.order = insertState(a.order, o.routes[id])
		}
	}
	base := 0
	for _, st := range a.order {
		ra := a.routes[st.id]
		switch {
		case ch.routes[st.id]:
			attach = append(attach, numberedState{st, base})
		case ra != nil && ra.base != base:
			detach = append(detach, st.id)
			attach = append(attach, numberedState{st, base})
		}
		base += st.rt.orders
	}
	return detach, attach
}

// updateInPlace is update when every route of ch that names gw did
// before, keeps its place in the order and takes as many order numbers:
// no other route is renumbered, so the order need not be walked.
func (a *attached) updateInPlace(o *outputs, gw *gateway, ch *changes) (detach []routeID, attach []numberedState, ok bool) {
	members := o.byGateway[gw.key]
	for id := range ch.routes {
		old := a.routes[id]
		_, member := members[id]
		if old == nil && !member {
			continue
		}
		if old == nil || !member || old.st.rt.orders != o.routes[id].rt.orders || compareRoutes(old.st, o.routes[id]) != 0 {
			return nil, nil, false
		}
	}
	for id := range ch.routes {
		old := a.routes[id]
		if old == nil {
			continue
		}
		st := o.routes[id]
		i, found := slices.BinarySearchFunc(a.order, old.st, compareRoutes)
		if !found || a.order[i] != old.st {
			return nil, nil, false // never expected; the caller's walk copes
		}
		a.order[i] = st
		detach = append(detach, id)
		attach = append(attach, numberedState{st, old.base})
	}
	return detach, attach, true
}

// numberedState is a route and the base it is numbered from.
type numberedState struct {
	st   *routeState
	base int
}

// removeState removes st from order (sorted by compareRoutes).
func removeState(order []*routeState, st *routeState) []*routeState {
	i, found := slices.BinarySearchFunc(order, st, compareRoutes)
	if !found || order[i] != st {
		i = slices.Index(order, st) // never expected: keys are unique
	}
	if i < 0 {
		return order
	}
	return slices.Delete(order, i, i+1)
}

func insertState(order []*routeState, st *routeState) []*routeState {
	i, _ := slices.BinarySearchFunc(order, st, compareRoutes)
	return slices.Insert(order, i, st)
}

// detach takes away what route id attached, and says where.
func (a *attached) detach(id routeID, touched map[place]bool) {
	ra := a.routes[id]
	if ra == nil {
		return
	}
	for _, p := range ra.places {
		touched[p] = true
		hs := a.hosts[p.listener][p.host]
		hs = slices.DeleteFunc(hs, func(h hostRoutes) bool { return h.id == id })
		if len(hs) == 0 {
			delete(a.hosts[p.listener], p.host)
		} else {
			a.hosts[p.listener][p.host] = hs
		}
	}
	for _, li := range ra.listeners {
		a.counts[li]--
	}
	delete(a.routes, id)
}

// attach attaches st, numbered from base, through each of its parentRefs
// naming gw, and says where.
func (t *translator) attach(a *attached, gw *gateway, st *routeState, base int, touched map[place]bool) {
	ra := &routeAttachment{st: st, base: base}
	routes := st.rt.numbered(base)
	for i := range st.rt.parents {
		ref := &st.rt.parents[i]
		if t.parentGateway(ref, st.rt.key.Namespace) != gw {
			continue
		}
		p, to := t.attachments(st.rt, gw, ref)
		if p != nil {
			continue
		}
		for _, at := range to {
			li := slices.Index(gw.listeners, at.l)
			a.counts[li]++
			ra.listeners = append(ra.listeners, li)
			for _, h := range at.hosts {
				pl := place{li, h}
				ra.places = append(ra.places, pl)
				touched[pl] = true
				a.hosts[li][h] = append(a.hosts[li][h], hostRoutes{st.id, routes})
			}
		}
	}
	a.routes[st.id] = ra
}

// virtualHost is host h of port as gw.snapshot would build it, and
// whether the port has it at all.
func (a *attached) virtualHost(gw *gateway, port int32, h string) (snapshot.VirtualHost, bool) {
	var onPort []*listener
	for _, l := range gw.listeners {
		if l.serves() && l.spec.Port == port {
			onPort = append(onPort, l)
		}
	}
	var rs []snapshot.Route
	present := false
	for _, l := range onPort {
		present = present || (h != "" && l.hostname == h)
		hs := a.hosts[slices.Index(gw.listeners, l)][h]
		if len(hs) == 0 || mostSpecific(onPort, h) != l {
			continue
		}
		present = true
		for _, e := range hs {
			rs = append(rs, e.routes...)
		}
	}
	if !present {
		return snapshot.VirtualHost{}, false
	}
	slices.SortStableFunc(rs, comparePrecedence)
	rs = slices.CompactFunc(rs, func(a, b snapshot.Route) bool { return a.Order == b.Order })
	return snapshot.VirtualHost{Name: h, Routes: rs}, true
}

// snapshot is gw's snapshot: prev with the touched hosts rebuilt (its
// slices are new where they differ and shared where they do not, so the
// data plane can keep what it compiled from an unchanged host), or, with
// no prev, built by gw.snapshot.
func (a *attached) snapshot(gw *gateway, prev *snapshot.Gateway, touched map[place]bool) snapshot.Gateway {
	if prev == nil {
		a.fillListeners(gw)
		snap := gw.snapshot()
		for _, l := range gw.listeners {
			l.hosts = nil // a holds them
		}
		return snap
	}
	out := *prev
	out.Ports = slices.Clone(out.Ports)
	cloned := map[int]bool{}
	done := map[place]bool{} // by port (as listener) and host
	for p := range touched {
		l := gw.listeners[p.listener]
		if !l.serves() || done[place{int(l.spec.Port), p.host}] {
			continue
		}
		done[place{int(l.spec.Port), p.host}] = true
		i := slices.IndexFunc(out.Ports, func(gp snapshot.GatewayPort) bool { return gp.Port == int(l.spec.Port) })
		if i < 0 {
			continue // never expected: a serving listener's port is there
		}
		if !cloned[i] {
			out.Ports[i].Hosts, cloned[i] = slices.Clone(out.Ports[i].Hosts), true
		}
		out.Ports[i].Hosts = patchHost(out.Ports[i].Hosts, p.host, func() (snapshot.VirtualHost, bool) {
			return a.virtualHost(gw, l.spec.Port, p.host)
		})
	}
	return out
}

// fillListeners sets each listener's hosts from a, for gw.snapshot.
func (a *attached) fillListeners(gw *gateway) {
	for i, l := range gw.listeners {
		l.hosts = map[string][]snapshot.Route{}
		for h, hs := range a.hosts[i] {
			for _, e := range hs {
				l.hosts[h] = append(l.hosts[h], e.routes...)
			}
		}
	}
}

// patchHost replaces, inserts or removes host h of hosts (sorted by name).
func patchHost(hosts []snapshot.VirtualHost, h string, get func() (snapshot.VirtualHost, bool)) []snapshot.VirtualHost {
	v, ok := get()
	return putSorted(hosts, h, func(v snapshot.VirtualHost) string { return v.Name }, strings.Compare, v, ok)
}

// attachedOf is gw's attachment state, new when gw is.
func (o *outputs) attachedOf(gw *gateway) (*attached, bool) {
	if a := o.attached[gw.key]; a != nil && !o.newGateways {
		return a, false
	}
	a := newAttached(gw)
	o.attached[gw.key] = a
	return a, true
}
