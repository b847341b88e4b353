package translate

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// DefaultBackendService is the Service behind the catch-all default
// backend when set (ingress-nginx's --default-backend-service).
type DefaultBackendService struct {
	Key types.NamespacedName
	// Port is the Service port number; 0 means the Service's first port.
	Port int32
}

// hostDefault is the default backend serving a host's unrouted paths.
type hostDefault struct {
	route snapshot.Route
	owner string // the Ingress it came from
}

// addDefaultBackend uses ing's defaultBackend. An Ingress without rules
// offers it as the catch-all for hosts no Ingress names; an Ingress with
// rules offers it for the unrouted paths of its own hosts, and only where
// its namespace owns the host (declared it first). So a tenant's host never
// falls through to another tenant's backend.
func (t *translator) addDefaultBackend(p *ingressPlan, r *report) {
	if p.defaultBackend == nil {
		return
	}
	if len(p.rules) == 0 {
		t.addCatchAllDefault(p, r)
		return
	}
	hosts := t.defaultBackendHosts(p, r)
	if len(hosts) == 0 {
		return
	}
	name, ok := t.resolveBackend(p.key.Namespace, p.defaultBackend, "defaultBackend", r)
	if !ok {
		return
	}
	for _, h := range hosts {
		route := snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: name, Source: p.source}
		t.hostDefaults[h] = hostDefault{route: route, owner: p.source}
	}
}

// defaultBackendHosts are the hosts of the Ingress's rules whose default
// backend it may set, reporting why the others are not used.
func (t *translator) defaultBackendHosts(p *ingressPlan, r *report) []string {
	var hosts []string
	for i := range p.rules {
		h := p.rules[i].host
		owner, valid := t.hostOwner[h]
		if !valid || slices.Contains(hosts, h) {
			continue // an invalid host is reported by addRule
		}
		if owner != p.key.Namespace {
			r.add(warnf(ReasonDefaultBackendConflict, "defaultBackend is not used for host %q: namespace %q declared the host first, so its unrouted paths are not this namespace's",
				h, owner))
			continue
		}
		if d, taken := t.hostDefaults[h]; taken {
			r.add(warnf(ReasonDefaultBackendConflict, "defaultBackend is not used for host %q: Ingress %q is older and sets it", h, d.owner))
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// addCatchAllDefault makes the defaultBackend of a rule-less Ingress the
// catch-all, unless the --default-backend-service or an older Ingress set it.
func (t *translator) addCatchAllDefault(p *ingressPlan, r *report) {
	switch {
	case t.defaultService != nil:
		r.add(warnf(ReasonDefaultBackendConflict,
			"defaultBackend is not used: the controller's --default-backend-service %s serves hosts no Ingress names", t.defaultService.Key))
		return
	case t.defaultOwner != "":
		r.add(warnf(ReasonDefaultBackendConflict,
			"defaultBackend is not used: Ingress %q is older and sets the default backend", t.defaultOwner))
		return
	}
	t.defaultOwner = p.source
	if name, ok := t.resolveBackend(p.key.Namespace, p.defaultBackend, "defaultBackend", r); ok {
		t.defaultRoute = &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: name, Source: p.source}
	}
}

// useDefaultService routes the catch-all to the controller's default
// backend Service. A Service that is missing still gets the route, with
// no endpoints: its requests answer 503 rather than reach a tenant's
// rule-less Ingress.
func (t *translator) useDefaultService(d *DefaultBackendService) {
	if d == nil {
		return
	}
	source := "--default-backend-service " + d.Key.String()
	use := t.service(d.Key.Namespace, d.Key.Name, t.defaultServicePort(d))
	u := snapshot.Upstream{Name: fmt.Sprintf("service/%s/%s/%d", d.Key.Namespace, d.Key.Name, d.Port),
		Policy: snapshot.PolicyRoundRobin, Protocol: snapshot.ProtocolHTTP1, Source: d.Key.String()}
	if w := use.failed; w != nil {
		t.warnings = append(t.warnings, Warning{Reason: w.Reason, Message: source + ": " + w.Message + "; requests for unknown hosts answer 503"})
	} else {
		u = use.upstream
	}
	t.used[u.Name] = &u
	t.defaultRoute = &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: u.Name, Source: source}
}

// defaultServicePort is d's port, or the first port of its Service.
func (t *translator) defaultServicePort(d *DefaultBackendService) portRef {
	if d.Port != 0 {
		return portRef{number: d.Port}
	}
	if svc := t.idx.services[d.Key]; svc != nil && len(svc.Spec.Ports) > 0 {
		return portRef{number: svc.Spec.Ports[0].Port}
	}
	return portRef{}
}

// addHostDefaults serves each host's default backend as its "/" prefix
// route, the shortest there is, unless an Ingress claimed that path
// (even with a backend that did not resolve: its owner decided).
func (t *translator) addHostDefaults() {
	for h, d := range t.hostDefaults {
		if _, claimed := t.routeOwner[routeKey{host: h, pathType: snapshot.PathPrefix, path: "/"}]; claimed {
			continue
		}
		t.routes[h] = append(t.routes[h], d.route)
	}
}
