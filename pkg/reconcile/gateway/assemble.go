package gateway

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// assemble builds the snapshot Gateways and the Gateway statuses, once
// every route has attached.
func (t *translator) assemble() ([]snapshot.Gateway, []GatewayResult) {
	var gws []snapshot.Gateway
	var results []GatewayResult
	for _, gw := range t.gateways {
		st := t.gatewayStatus(gw)
		results = append(results, GatewayResult{Key: gw.key, Status: st})
		if meta := findCondition(st.Conditions, gatewayv1.GatewayConditionProgrammed); meta.Status == metav1.ConditionTrue {
			gws = append(gws, gw.snapshot())
		}
	}
	slices.SortFunc(gws, func(a, b snapshot.Gateway) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(results, func(a, b GatewayResult) int {
		return cmp.Or(cmp.Compare(a.Key.Namespace, b.Key.Namespace), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	return gws, results
}

func findCondition(cs []metav1.Condition, typ gatewayv1.GatewayConditionType) metav1.Condition {
	for _, c := range cs {
		if c.Type == string(typ) {
			return c
		}
	}
	return metav1.Condition{}
}

func (t *translator) gatewayStatus(gw *gateway) gatewayv1.GatewayStatus {
	gen := gw.obj.Generation
	accepted := gw.acceptance()
	programmed := gw.programming(accepted, t.in.AddressPool.IsValid())
	st := gatewayv1.GatewayStatus{Conditions: []metav1.Condition{
		verdict(gatewayv1.GatewayConditionAccepted, accepted.problem(), acceptedReason(gw), "the Gateway is accepted", gen),
		verdict(gatewayv1.GatewayConditionProgrammed, programmed, string(gatewayv1.GatewayReasonProgrammed),
			"the Gateway is served on its addresses", gen),
	}}
	ipType := gatewayv1.IPAddressType
	for _, a := range gw.address.addrs {
		st.Addresses = append(st.Addresses, gatewayv1.GatewayStatusAddress{Type: &ipType, Value: a.String()})
	}
	for _, l := range gw.listeners {
		st.Listeners = append(st.Listeners, l.status(gen, programmed == nil))
	}
	return st
}

// acceptanceVerdict is the Gateway's Accepted verdict: rejected with a
// problem, or accepted.
type acceptanceVerdict struct{ rejected *problem }

func (a acceptanceVerdict) problem() *problem { return a.rejected }

func (gw *gateway) acceptance() acceptanceVerdict {
	if p := gw.address.unsupported; p != nil {
		return acceptanceVerdict{p}
	}
	if len(gw.listeners) > 0 && gw.servingListeners() == 0 {
		return acceptanceVerdict{problemf(gatewayv1.GatewayReasonListenersNotValid, "no listener is valid")}
	}
	return acceptanceVerdict{}
}

// acceptedReason is the True reason: ListenersNotValid when some (not
// all) listeners are invalid, as the spec allows.
func acceptedReason(gw *gateway) string {
	if gw.servingListeners() < len(gw.listeners) {
		return string(gatewayv1.GatewayReasonListenersNotValid)
	}
	return string(gatewayv1.GatewayReasonAccepted)
}

func (gw *gateway) servingListeners() int {
	n := 0
	for _, l := range gw.listeners {
		if l.serves() {
			n++
		}
	}
	return n
}

func (gw *gateway) programming(a acceptanceVerdict, havePool bool) *problem {
	switch {
	case a.rejected != nil:
		return problemf(gatewayv1.GatewayReasonInvalid, "the Gateway is not accepted")
	case gw.address.unusable != nil:
		return gw.address.unusable
	case len(gw.address.addrs) == 0 && !havePool:
		return problemf(gatewayv1.GatewayReasonAddressNotAssigned, "Baton has no --gateway-address-pool to assign an address from")
	case len(gw.address.addrs) == 0:
		return problemf(gatewayv1.GatewayReasonAddressNotAssigned, "no address is assigned")
	}
	return nil
}

func (l *listener) status(gen int64, gatewayProgrammed bool) gatewayv1.ListenerStatus {
	programmed := l.accepted
	if programmed == nil {
		programmed = cmp.Or(l.resolved, l.conflicted)
	}
	if programmed != nil {
		programmed = problemf(gatewayv1.ListenerReasonInvalid, "%s", programmed.message)
	} else if !gatewayProgrammed {
		programmed = problemf(gatewayv1.ListenerReasonPending, "the Gateway is not programmed")
	}
	conflicted := condition(gatewayv1.ListenerConditionConflicted, false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts", gen)
	if l.conflicted != nil {
		conflicted = condition(gatewayv1.ListenerConditionConflicted, true, l.conflicted.reason, l.conflicted.message, gen)
	}
	kinds := l.kinds
	if kinds == nil {
		kinds = []gatewayv1.RouteGroupKind{}
	}
	return gatewayv1.ListenerStatus{Name: l.spec.Name, SupportedKinds: kinds, AttachedRoutes: l.attached,
		Conditions: []metav1.Condition{
			verdict(gatewayv1.ListenerConditionAccepted, l.accepted, string(gatewayv1.ListenerReasonAccepted), "the listener is accepted", gen),
			verdict(gatewayv1.ListenerConditionProgrammed, programmed, string(gatewayv1.ListenerReasonProgrammed), "the listener is served", gen),
			verdict(gatewayv1.ListenerConditionResolvedRefs, l.resolved, string(gatewayv1.ListenerReasonResolvedRefs), "every reference resolved", gen),
			conflicted,
		}}
}

// snapshot is the Gateway as the data plane sees it: its serving
// listeners merged by port.
func (gw *gateway) snapshot() snapshot.Gateway {
	out := snapshot.Gateway{Name: gw.key.String()}
	for _, a := range gw.address.addrs {
		out.Addresses = append(out.Addresses, a.String())
	}
	ports := map[int]*snapshot.GatewayPort{}
	hosts := map[int]map[string][]snapshot.Route{}
	onPort := map[int][]*listener{}
	for _, l := range gw.listeners {
		if l.serves() {
			onPort[int(l.spec.Port)] = append(onPort[int(l.spec.Port)], l)
		}
	}
	for _, l := range gw.listeners {
		if !l.serves() {
			continue
		}
		port := int(l.spec.Port)
		gp, ok := ports[port]
		if !ok {
			gp = &snapshot.GatewayPort{Port: port, TLS: l.spec.Protocol == gatewayv1.HTTPSProtocolType}
			ports[port], hosts[port] = gp, map[string][]snapshot.Route{}
		}
		gp.Certificates = mergeCertificates(gp.Certificates, l.certs)
		isolate(hosts[port], l, onPort[port])
	}
	for port, gp := range ports {
		gp.Hosts = virtualHosts(hosts[port])
		out.Ports = append(out.Ports, *gp)
	}
	slices.SortFunc(out.Ports, func(a, b snapshot.GatewayPort) int { return cmp.Compare(a.Port, b.Port) })
	return out
}

// isolate adds to hosts the routes l collected for the hosts on which l is
// the most specific listener of its port, and l's own hostname even
// without routes: the spec serves a request only by the listener that
// matches its host most specifically, so neither a route of a less
// specific listener naming a host (a listener without hostname, a route
// for abc.foo.example.com) nor a less specific wildcard host the data
// plane would fall back to may answer it.
func isolate(hosts map[string][]snapshot.Route, l *listener, port []*listener) {
	if _, ok := hosts[l.hostname]; !ok && l.hostname != "" {
		hosts[l.hostname] = nil
	}
	for h, rs := range l.hosts {
		if mostSpecific(port, h) == l {
			hosts[h] = append(hosts[h], rs...)
		}
	}
}

// mostSpecific is the listener among ls whose hostname matches host (a
// name or a wildcard) most specifically: the same name, else the longest
// wildcard covering it, else the one without hostname.
func mostSpecific(ls []*listener, host string) *listener {
	var best *listener
	for _, l := range ls {
		if l.hostname != "" && !covers(l.hostname, host) {
			continue
		}
		if best == nil || specificity(l.hostname) > specificity(best.hostname) {
			best = l
		}
	}
	return best
}

// specificity ranks listener hostnames covering one host: a name over any
// wildcard, a longer wildcard over a shorter one, any over none.
func specificity(hostname string) int {
	if hostname != "" && hostname[0] != '*' {
		return 1 << 16
	}
	return len(hostname)
}

// mergeCertificates adds certs, joining the hosts of one Secret's.
func mergeCertificates(have, certs []snapshot.Certificate) []snapshot.Certificate {
	for _, c := range certs {
		i := slices.IndexFunc(have, func(h snapshot.Certificate) bool { return h.Source == c.Source })
		if i < 0 {
			c.Hosts = slices.Clone(c.Hosts)
			have = append(have, c)
			continue
		}
		for _, h := range c.Hosts {
			if !slices.Contains(have[i].Hosts, h) {
				have[i].Hosts = append(have[i].Hosts, h)
			}
		}
		slices.Sort(have[i].Hosts)
	}
	slices.SortFunc(have, func(a, b snapshot.Certificate) int { return cmp.Compare(a.Source, b.Source) })
	return have
}

// virtualHosts sorts hosts by name and each host's routes by precedence;
// a route attached through two listeners of one port appears once.
func virtualHosts(m map[string][]snapshot.Route) []snapshot.VirtualHost {
	out := make([]snapshot.VirtualHost, 0, len(m))
	for name, rs := range m {
		slices.SortStableFunc(rs, comparePrecedence)
		rs = slices.CompactFunc(rs, func(a, b snapshot.Route) bool { return a.Order == b.Order })
		out = append(out, snapshot.VirtualHost{Name: name, Routes: rs})
	}
	slices.SortFunc(out, func(a, b snapshot.VirtualHost) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// comparePrecedence orders routes as snapshot.Route documents the
// precedence: Exact, then RegularExpression, then Prefix paths (longer
// first), then a method, more headers, more query parameters, lower Order.
func comparePrecedence(a, b snapshot.Route) int {
	return cmp.Or(
		cmp.Compare(pathRank(a.PathType), pathRank(b.PathType)),
		-cmp.Compare(len(a.Path), len(b.Path)),
		-cmp.Compare(boolRank(a.Method != ""), boolRank(b.Method != "")),
		-cmp.Compare(len(a.Headers), len(b.Headers)),
		-cmp.Compare(len(a.QueryParams), len(b.QueryParams)),
		cmp.Compare(a.Order, b.Order))
}

func pathRank(p snapshot.PathType) int {
	switch p {
	case snapshot.PathExact:
		return 0
	case snapshot.PathRegularExpression:
		return 1
	}
	return 2
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
