package gateway

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// run updates o with the routes of batch and returns the Output. full
// says t's Gateways are all new: every Gateway is assembled, and every
// route's parents are resolved again (its translation is kept).
// Otherwise t's Gateways are those of the last call but regateways (new,
// changed or gone), whose routes resolve their parents again and which
// are attached anew; of the others, only those that a changed route
// names, or named, are attached again, and only for the routes that
// changed (see attached): numbering routes per Gateway keeps one route's
// change from renumbering the others'.
func (t *translator) run(o *outputs, full bool, regateways map[types.NamespacedName]bool, batch routeBatch) Output {
	o.epoch++
	ch := newChanges()
	o.newGateways, o.regateways = full, regateways
	for k := range regateways {
		ch.gateways[k] = true
		delete(o.gateways, k) // patched away unless still ours
		delete(o.attached, k)
	}
	if full {
		var classes Output
		t.addGateways(t.classes(&classes))
		o.last.Classes = classes.Classes
		for k := range o.gateways {
			ch.gateways[k] = true // patched away unless still ours
		}
		clear(o.gateways)
		clear(o.attached)
		for k := range t.gateways {
			ch.gateways[k] = true
		}
	}
	httpRoutes(t, o, ch, batch.http)
	grpcRoutes(t, o, ch, batch.grpc)
	if batch.all {
		o.removeUnseen(ch)
	}
	for _, id := range batch.gone {
		o.remove(id, ch)
	}
	for g := range ch.gateways {
		if gw := t.gateways[g]; gw != nil {
			t.attachGateway(o, gw, ch)
		}
	}
	for id := range ch.routes {
		if st := o.routes[id]; st != nil {
			t.routeStatus(st)
		}
	}
	return t.output(o, ch)
}

// attachGateway attaches to gw the routes naming it, numbered in order,
// and assembles its status and snapshot. A Gateway kept from the last
// call re-attaches only the routes ch touched (and those they renumber)
// and rebuilds only the hosts they touch; a new one attaches every route,
// whose statuses are then redone.
func (t *translator) attachGateway(o *outputs, gw *gateway, ch *changes) {
	a, fresh := o.attachedOf(gw)
	touched := map[place]bool{}
	if fresh {
		a.order = o.routesOf(gw.key)
		base := 0
		for _, st := range a.order {
			ch.routes[st.id] = true // its parent is new: its status may differ
			t.attach(a, gw, st, base, touched)
			base += st.rt.orders
		}
	} else {
		detach, attach := a.update(o, gw, ch)
		for _, id := range detach {
			a.detach(id, touched)
		}
		for _, n := range attach {
			t.attach(a, gw, n.st, n.base, touched)
		}
	}
	for i, l := range gw.listeners {
		l.attached = a.counts[i]
	}
	res := GatewayResult{Key: gw.key, Status: t.gatewayStatus(gw)}
	out := gatewayOutput{result: res}
	prev := a.snap
	a.snap = nil
	if meta := findCondition(res.Status.Conditions, gatewayv1.GatewayConditionProgrammed); meta.Status == metav1.ConditionTrue {
		snap := a.snapshot(gw, prev, touched)
		out.snap, a.snap = &snap, &snap
	}
	o.gateways[gw.key] = out
}

// routeStatus is st's status on each of its parents.
func (t *translator) routeStatus(st *routeState) {
	st.result = RouteResult{Key: st.rt.key}
	st.accepted = nil
	for i := range st.rt.parents {
		ref := &st.rt.parents[i]
		if gw := t.parentGateway(ref, st.rt.key.Namespace); gw != nil {
			status, accepted := t.parentStatus(st.rt, gw, ref)
			st.result.Parents = append(st.result.Parents, status)
			if accepted && !slices.Contains(st.accepted, gw.key) {
				st.accepted = append(st.accepted, gw.key)
			}
		}
	}
}

// output is the last Output with what ch touched replaced.
func (t *translator) output(o *outputs, ch *changes) Output {
	out := o.last
	out.HTTPRoutes = t.routeResults(o, ch, "HTTPRoute", out.HTTPRoutes)
	out.GRPCRoutes = t.routeResults(o, ch, "GRPCRoute", out.GRPCRoutes)
	out.GatewayStatuses = gatewayStatuses(o, ch, out.GatewayStatuses)
	out.Gateways = gatewaySnapshots(o, ch, out.Gateways)
	out.Upstreams = upstreamList(o, ch, out.Upstreams)
	out.BackendTLSPolicies = t.policyResults(o)
	o.last = out
	return out
}

func gatewayStatuses(o *outputs, ch *changes, last []GatewayResult) []GatewayResult {
	return patched(last, ch.gateways, func(r GatewayResult) types.NamespacedName { return r.Key }, compareKeys,
		func(k types.NamespacedName) (GatewayResult, bool) { g, ok := o.gateways[k]; return g.result, ok })
}

// gatewaySnapshots are sorted by snapshot name, namespace/name.
func gatewaySnapshots(o *outputs, ch *changes, last []snapshot.Gateway) []snapshot.Gateway {
	names := make(map[string]bool, len(ch.gateways))
	for k := range ch.gateways {
		names[k.String()] = true
	}
	return patched(last, names, func(g snapshot.Gateway) string { return g.Name }, cmp.Compare[string],
		func(name string) (snapshot.Gateway, bool) {
			g, ok := o.gateways[keyFromString(name)]
			if !ok || g.snap == nil {
				return snapshot.Gateway{}, false
			}
			return *g.snap, true
		})
}

func upstreamList(o *outputs, ch *changes, last []snapshot.Upstream) []snapshot.Upstream {
	return patched(last, ch.upstreams, func(u snapshot.Upstream) string { return u.Name }, cmp.Compare[string],
		func(name string) (snapshot.Upstream, bool) {
			u, ok := o.upstreams[name]
			if !ok {
				return snapshot.Upstream{}, false
			}
			return u.up, true
		})
}

func (t *translator) routeResults(o *outputs, ch *changes, kind string, last []RouteResult) []RouteResult {
	keys := map[types.NamespacedName]bool{}
	for id := range ch.routes {
		if id.kind == kind {
			keys[id.key] = true
		}
	}
	return patched(last, keys, func(r RouteResult) types.NamespacedName { return r.Key }, compareKeys,
		func(k types.NamespacedName) (RouteResult, bool) {
			st, ok := o.routes[routeID{kind, k}]
			if !ok {
				return RouteResult{}, false
			}
			return st.result, true
		})
}

// keyFromString parses a Gateway's snapshot name, namespace/name.
func keyFromString(s string) types.NamespacedName {
	for i := range len(s) {
		if s[i] == '/' {
			return types.NamespacedName{Namespace: s[:i], Name: s[i+1:]}
		}
	}
	return types.NamespacedName{Name: s}
}
