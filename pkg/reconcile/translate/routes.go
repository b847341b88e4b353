package translate

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// routeKey is what two Ingresses conflict on.
type routeKey struct {
	host     string
	pathType snapshot.PathType
	path     string
}

func (t *translator) addRule(p *ingressPlan, rule *rulePlan, r *report) {
	if rule.invalid != nil {
		r.add(rule.invalid)
		return
	}
	if _, claimed := t.hostOwner[rule.host]; !claimed {
		t.hostOwner[rule.host] = p.key.Namespace
	}
	for i := range rule.paths {
		t.addPath(p, &rule.paths[i], r)
	}
}

// addPath claims host+path for the Ingress unless an older Ingress (or an
// earlier path of the same one) did, then routes it if its backend
// resolves.
func (t *translator) addPath(p *ingressPlan, pp *pathPlan, r *report) {
	if pp.invalid != nil {
		r.add(pp.invalid)
		return
	}
	if owner, taken := t.routeOwner[pp.key]; taken {
		r.add(conflict(pp.where, owner, p.source))
		return
	}
	t.routeOwner[pp.key] = p.source
	if p.badFilters != nil {
		return // reported once; the path stays claimed: its traffic is not another Ingress's
	}
	if name, ok := t.resolveBackend(p.key.Namespace, pp.backend, pp.where, r); ok {
		route := snapshot.Route{PathType: pp.key.pathType, Path: pp.key.path, Upstream: name, Source: p.source,
			Filters: p.filters.forPath(pp.key.pathType)}
		t.addCanary(p, &route, r)
		if err := checkFiltered(&route); err != nil {
			r.addf(warnf(ReasonInvalidAnnotation, "not served: %v", err), pp.where)
			return
		}
		t.routes[pp.key.host] = append(t.routes[pp.key.host], route)
	}
}

// addCanary splits route's requests between its own upstream and the
// canary Service's, by the Gateway API weighted backends the data plane
// has for HTTPRoutes. A canary Service that cannot be used answers its
// share with 500, as a Gateway API backendRef would: the operator asked
// for that share to go elsewhere, and errors in it are seen, where
// quietly serving it from the stable backend would hide a canary that
// receives nothing.
func (t *translator) addCanary(p *ingressPlan, route *snapshot.Route, r *report) {
	c := p.canary
	if c == nil {
		return
	}
	canary := snapshot.WeightedBackend{Invalid: true, Weight: c.weight}
	use := t.service(p.key.Namespace, c.service, c.port)
	if use.failed != nil {
		r.addf(use.failed, "annotation "+AnnotationCanary+" (its share answers 500)")
	} else {
		t.use(&use.upstream)
		for i := range use.warnings {
			r.add(&use.warnings[i])
		}
		canary = snapshot.WeightedBackend{Upstream: use.upstream.Name, Weight: c.weight}
	}
	route.Backends = []snapshot.WeightedBackend{{Upstream: route.Upstream, Weight: 100 - c.weight}, canary}
	route.Upstream = "" // as Gateway API routes with Backends have it
}

// checkFiltered applies the data plane's route rules to a route with
// filters or backends from annotations, so that what it would refuse is refused here,
// at its Ingress.
func checkFiltered(route *snapshot.Route) error {
	if route.Filters == nil && route.Backends == nil {
		return nil
	}
	return snapshot.CheckRoute(route)
}

// use adds u to the snapshot; most routes name an upstream already added,
// and copying the struct for each of them was a good part of a rebuild.
// u must not change afterwards: the Cache's groups keep it.
func (t *translator) use(u *snapshot.Upstream) {
	if _, ok := t.used[u.Name]; !ok {
		t.used[u.Name] = u
	}
}

func conflict(where, owner, source string) *Warning {
	if owner == source {
		return warnf(ReasonRouteConflict, "%s is not used: it repeats an earlier path of this Ingress", where)
	}
	return warnf(ReasonRouteConflict,
		"%s is not used: Ingress %q serves it already and is older (creationTimestamp, then namespace/name)", where, owner)
}

// resolveBackend returns the snapshot upstream name of b, adding the
// upstream to the snapshot, or reports why b cannot be used.
func (t *translator) resolveBackend(ns string, b *networkingv1.IngressBackend, where string, r *report) (string, bool) {
	switch {
	case b.Service != nil:
		return t.useService(ns, b.Service, where, r)
	case b.Resource != nil:
		return t.useUpstream(ns, b.Resource, where, r)
	}
	r.addf(warnf(ReasonUnsupportedBackend, "backend names neither a service nor a resource"), where)
	return "", false
}

func (t *translator) useService(ns string, s *networkingv1.IngressServiceBackend, where string, r *report) (string, bool) {
	use := t.service(ns, s.Name, portRef{number: s.Port.Number, name: s.Port.Name})
	if use.failed != nil {
		r.addf(use.failed, where)
		return "", false
	}
	t.use(&use.upstream)
	for i := range use.warnings {
		r.add(&use.warnings[i])
	}
	return use.upstream.Name, true
}

func (t *translator) useUpstream(ns string, ref *corev1.TypedLocalObjectReference, where string, r *report) (string, bool) {
	group := ""
	if ref.APIGroup != nil {
		group = *ref.APIGroup
	}
	if group != v1alpha1.GroupName || ref.Kind != v1alpha1.UpstreamKind {
		r.addf(warnf(ReasonUnsupportedBackend, "resource backend %s/%s is not supported; only apiGroup %s, kind %s",
			group, ref.Kind, v1alpha1.GroupName, v1alpha1.UpstreamKind), where)
		return "", false
	}
	key := types.NamespacedName{Namespace: ns, Name: ref.Name}
	b, ok := t.built[key]
	if !ok {
		r.addf(warnf(ReasonUpstreamNotFound, "Upstream %q not found", key), where)
		return "", false
	}
	t.use(&b.upstream)
	if b.ready.Status != metav1.ConditionTrue {
		r.add(warnf(ReasonUpstreamNotReady, "Upstream %q is not ready (%s: %s); its routes answer 503",
			key, b.ready.Reason, b.ready.Message))
	}
	return b.upstream.Name, true
}

// normalizePath maps an Ingress path to the snapshot's two path types;
// see the package documentation for ImplementationSpecific.
func normalizePath(pt *networkingv1.PathType, path string) (snapshot.PathType, string, error) {
	kind := networkingv1.PathTypeImplementationSpecific
	if pt != nil {
		kind = *pt
	}
	switch kind {
	case networkingv1.PathTypeExact:
		return snapshot.PathExact, path, snapshot.CheckPath(path)
	case networkingv1.PathTypeImplementationSpecific:
		if path == "" {
			path = "/"
		}
		fallthrough
	case networkingv1.PathTypePrefix:
		if err := snapshot.CheckPath(path); err != nil {
			return 0, "", err
		}
		if trimmed := strings.TrimRight(path, "/"); trimmed != "" {
			path = trimmed
		}
		return snapshot.PathPrefix, path, nil
	}
	return 0, "", fmt.Errorf("unknown pathType %q", kind)
}

// validateHost accepts "", DNS names and wildcards such as "*.example.com",
// already lower-cased.
func validateHost(host string) error {
	if host == "" {
		return nil
	}
	// The data plane's own rule (label lengths, characters): a host it
	// would refuse must be dropped here, with a reason, not refused there
	// with everyone else's routes.
	if _, err := snapshot.NormaliseHost(host); err != nil {
		return err
	}
	var errs []string
	if strings.HasPrefix(host, "*.") {
		errs = validation.IsWildcardDNS1123Subdomain(host)
	} else {
		errs = validation.IsDNS1123Subdomain(host)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// sortedHosts orders hosts by name and each host's routes by descending
// path length, Exact before Prefix on equal paths: the order a matcher
// tries them in.
func (t *translator) sortedHosts() []snapshot.VirtualHost {
	var hosts []snapshot.VirtualHost
	for name, routes := range t.routes {
		sort.Slice(routes, func(i, j int) bool { return routeLess(&routes[i], &routes[j]) })
		hosts = append(hosts, snapshot.VirtualHost{Name: name, Routes: routes})
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

func routeLess(a, b *snapshot.Route) bool {
	if len(a.Path) != len(b.Path) {
		return len(a.Path) > len(b.Path)
	}
	if a.PathType != b.PathType {
		return a.PathType == snapshot.PathExact
	}
	return a.Path < b.Path
}
