package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ingressPlan is everything about one Ingress that depends on the Ingress
// alone: its hosts and paths checked and normalised, its TLS entries'
// hosts, and the problems found on the way. Claims on hosts and paths and
// the resolution of backends depend on other objects and are made when the
// plan is replayed (translator.translateIngress), so a Cache can keep a
// plan for as long as the Ingress's resourceVersion does not change.
type ingressPlan struct {
	key        types.NamespacedName
	uid        types.UID
	version    string // resourceVersion
	generation int64
	source     string // key.String(), the Source of its routes
	rules      []rulePlan
	// defaultBackend points into the Ingress, which the cache never
	// modifies in place.
	defaultBackend *networkingv1.IngressBackend
	tls            []tlsPlan
	// filters are what the Ingress's annotations ask of its rule paths;
	// badFilters, when set, keeps those paths from being served.
	filters    *ingressFilters
	badFilters *Warning
	// canary, when set, takes its share of each rule path's requests.
	canary *canaryPlan
	// created orders the plan among others as compareAge orders Ingresses.
	created metav1.Time
	// claims are what the Ingress may compete for with others (see
	// claimsOf); deps the objects its translation reads.
	claims []string
	deps   []dependency
}

type rulePlan struct {
	host    string // lower-cased, even when invalid
	invalid *Warning
	paths   []pathPlan
}

type pathPlan struct {
	where   string
	key     routeKey
	invalid *Warning
	backend *networkingv1.IngressBackend
}

// tlsPlan is one tls entry with a Secret: its hosts and the warnings met
// while collecting them.
type tlsPlan struct {
	secret   types.NamespacedName
	hosts    []string
	warnings []Warning
}

func planIngress(ing *networkingv1.Ingress) *ingressPlan {
	key := keyOf(ing)
	p := &ingressPlan{key: key, uid: ing.UID, version: ing.ResourceVersion, generation: ing.Generation,
		source: key.String(), defaultBackend: ing.Spec.DefaultBackend, created: ing.CreationTimestamp}
	p.filters, p.badFilters = planFilters(ing)
	if c, bad := planCanary(ing); p.badFilters == nil {
		p.canary, p.badFilters = c, bad
	}
	p.rules = make([]rulePlan, len(ing.Spec.Rules))
	for i := range ing.Spec.Rules {
		p.rules[i] = planRule(&ing.Spec.Rules[i])
	}
	for i := range ing.Spec.TLS {
		if entry := &ing.Spec.TLS[i]; entry.SecretName != "" { // else the default certificate
			p.tls = append(p.tls, planTLS(ing, entry))
		}
	}
	p.claims, p.deps = claimsOf(p), depsOf(p)
	return p
}

func planRule(rule *networkingv1.IngressRule) rulePlan {
	host := strings.ToLower(rule.Host)
	if err := validateHost(host); err != nil {
		return rulePlan{host: host, invalid: warnf(ReasonInvalidHost, "host %q is not used: %v", rule.Host, err)}
	}
	rp := rulePlan{host: host}
	if rule.HTTP == nil {
		return rp
	}
	rp.paths = make([]pathPlan, len(rule.HTTP.Paths))
	for i := range rule.HTTP.Paths {
		rp.paths[i] = planPath(host, &rule.HTTP.Paths[i])
	}
	return rp
}

func planPath(host string, p *networkingv1.HTTPIngressPath) pathPlan {
	where := fmt.Sprintf("host %q path %q", host, p.Path)
	pathType, path, err := normalizePath(p.PathType, p.Path)
	if err != nil {
		return pathPlan{where: where, invalid: warnf(ReasonInvalidPath, "%s is not used: %v", where, err)}
	}
	return pathPlan{where: where, key: routeKey{host: host, pathType: pathType, path: path}, backend: &p.Backend}
}

func planTLS(ing *networkingv1.Ingress, entry *networkingv1.IngressTLS) tlsPlan {
	r := &report{}
	hosts := tlsHosts(ing, entry, r)
	return tlsPlan{secret: types.NamespacedName{Namespace: ing.Namespace, Name: entry.SecretName},
		hosts: hosts, warnings: r.warnings}
}

// claimsOf lists what the Ingress competes for, as strings: each host of
// its valid rules ("h" and the host, "" included), each TLS host ("t" and
// the host) and, for a rule-less Ingress with a defaultBackend, the
// catch-all ("c"). Ingresses that share no claim, directly or through
// others, never affect each other's translation; that is what lets a Cache
// re-translate only the group of a changed Ingress.
func claimsOf(p *ingressPlan) []string {
	var claims []string
	add := func(c string) {
		if !slices.Contains(claims, c) {
			claims = append(claims, c)
		}
	}
	for i := range p.rules {
		if p.rules[i].invalid == nil {
			add("h" + p.rules[i].host)
		}
	}
	for i := range p.tls {
		for _, h := range p.tls[i].hosts {
			add("t" + h)
		}
	}
	if len(p.rules) == 0 && p.defaultBackend != nil {
		add("c")
	}
	return claims
}

// dependency is an object an Ingress's translation reads.
type dependency struct {
	kind dependencyKind
	key  types.NamespacedName
}

type dependencyKind uint8

const (
	dependsOnService dependencyKind = iota
	dependsOnSecret
	dependsOnUpstream
)

// depsOf lists every object the plan's backends and TLS entries name.
func depsOf(p *ingressPlan) []dependency {
	var deps []dependency
	add := func(d dependency) {
		if !slices.Contains(deps, d) {
			deps = append(deps, d)
		}
	}
	backend := func(b *networkingv1.IngressBackend) {
		switch {
		case b == nil:
		case b.Service != nil:
			add(dependency{dependsOnService, types.NamespacedName{Namespace: p.key.Namespace, Name: b.Service.Name}})
		case b.Resource != nil:
			add(dependency{dependsOnUpstream, types.NamespacedName{Namespace: p.key.Namespace, Name: b.Resource.Name}})
		}
	}
	backend(p.defaultBackend)
	if p.canary != nil {
		add(dependency{dependsOnService, types.NamespacedName{Namespace: p.key.Namespace, Name: p.canary.service}})
	}
	for i := range p.rules {
		for j := range p.rules[i].paths {
			backend(p.rules[i].paths[j].backend)
		}
	}
	for i := range p.tls {
		add(dependency{dependsOnSecret, p.tls[i].secret})
	}
	return deps
}

// comparePlans orders plans as compareAge orders their Ingresses.
func comparePlans(a, b *ingressPlan) int {
	return cmp.Or(a.created.Compare(b.created.Time),
		cmp.Compare(a.key.Namespace, b.key.Namespace), cmp.Compare(a.key.Name, b.key.Name),
		cmp.Compare(a.uid, b.uid), cmp.Compare(a.version, b.version))
}
