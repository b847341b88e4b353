package ci

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// grant is one verb on one resource of one API group.
type grant struct{ group, resource, verb string }

const gatewayGroup = "gateway.networking.k8s.io"

var (
	readVerbs     = []string{"get", "list", "watch"}
	statusVerbs   = []string{"update", "patch"}
	eventVerbs    = []string{"create", "patch"}
	leaseVerbs    = []string{"get", "list", "watch", "create", "update", "patch"}
	readResources = []grant{{"networking.k8s.io", "ingresses", ""}, {"", "services", ""}, {"", "secrets", ""},
		{"discovery.k8s.io", "endpointslices", ""}, {"baton.dev", "upstreams", ""},
		{gatewayGroup, "gateways", ""}, {gatewayGroup, "httproutes", ""}, {gatewayGroup, "grpcroutes", ""},
		{gatewayGroup, "referencegrants", ""}, {gatewayGroup, "backendtlspolicies", ""}, {"", "configmaps", ""}}
	statusResources = []grant{{"networking.k8s.io", "ingresses/status", ""}, {"baton.dev", "upstreams/status", ""},
		{gatewayGroup, "gateways/status", ""}, {gatewayGroup, "httproutes/status", ""}, {gatewayGroup, "grpcroutes/status", ""},
		{gatewayGroup, "backendtlspolicies/status", ""}}
	// clusterReads and clusterStatus are the cluster-scoped kinds Baton
	// reads (and whose status it writes) whatever namespace it watches.
	clusterReads   = []grant{{"networking.k8s.io", "ingressclasses", ""}, {gatewayGroup, "gatewayclasses", ""}, {"", "namespaces", ""}}
	clusterStatus  = []grant{{gatewayGroup, "gatewayclasses/status", ""}}
	eventResources = []grant{{"", "events", ""}, {"events.k8s.io", "events", ""}}
)

func expand(resources []grant, verbs []string) []grant {
	var out []grant
	for _, r := range resources {
		for _, v := range verbs {
			out = append(out, grant{r.group, r.resource, v})
		}
	}
	return out
}

// permitted is everything the controller may ever be granted; anything
// else in a rendered rule is a defect.
func permitted() map[grant]bool {
	all := slices.Concat(expand(readResources, readVerbs), expand(statusResources, statusVerbs),
		expand(eventResources, eventVerbs), expand(clusterReads, readVerbs), expand(clusterStatus, statusVerbs),
		expand([]grant{{"coordination.k8s.io", "leases", ""}}, leaseVerbs))
	m := map[grant]bool{}
	for _, g := range all {
		m[g] = true
	}
	return m
}

// authz is what the ServiceAccount is bound to: cluster-wide rules and
// rules per namespace.
type authz struct {
	cluster []rbacv1.PolicyRule
	byNS    map[string][]rbacv1.PolicyRule
}

func (a authz) can(ns string, g grant) bool {
	rules := a.cluster
	if ns != "" {
		rules = slices.Concat(rules, a.byNS[ns])
	}
	for _, r := range rules {
		if slices.Contains(r.APIGroups, g.group) && slices.Contains(r.Resources, g.resource) && slices.Contains(r.Verbs, g.verb) {
			return true
		}
	}
	return false
}

// bindings resolves every binding to the rules it grants, failing on a
// binding to something not rendered, to another subject, or a role that
// nothing binds.
func bindings(t *testing.T, m *manifest, sa string) authz {
	t.Helper()
	a := authz{byNS: map[string][]rbacv1.PolicyRule{}}
	wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: releaseNS}}
	clusterRoles, roles, bound := map[string]*rbacv1.ClusterRole{}, map[string]*rbacv1.Role{}, map[string]bool{}
	for _, cr := range all[*rbacv1.ClusterRole](m) {
		clusterRoles[cr.Name] = cr
	}
	for _, r := range all[*rbacv1.Role](m) {
		roles[r.Namespace+"/"+r.Name] = r
	}
	for _, b := range all[*rbacv1.ClusterRoleBinding](m) {
		cr := clusterRoles[b.RoleRef.Name]
		if b.RoleRef.Kind != "ClusterRole" || cr == nil || !slices.Equal(b.Subjects, wantSubject) {
			t.Fatalf("ClusterRoleBinding %s: roleRef %v, subjects %v", b.Name, b.RoleRef, b.Subjects)
		}
		a.cluster, bound["ClusterRole/"+cr.Name] = append(a.cluster, cr.Rules...), true
	}
	for _, b := range all[*rbacv1.RoleBinding](m) {
		r := roles[b.Namespace+"/"+b.RoleRef.Name]
		if b.RoleRef.Kind != "Role" || r == nil || !slices.Equal(b.Subjects, wantSubject) {
			t.Fatalf("RoleBinding %s/%s: roleRef %v, subjects %v", b.Namespace, b.Name, b.RoleRef, b.Subjects)
		}
		a.byNS[b.Namespace], bound["Role/"+b.Namespace+"/"+r.Name] = append(a.byNS[b.Namespace], r.Rules...), true
	}
	if len(bound) != len(clusterRoles)+len(roles) {
		t.Errorf("unbound roles: %d bound of %d ClusterRoles and %d Roles", len(bound), len(clusterRoles), len(roles))
	}
	return a
}

// checkRulesMinimal: no wildcard, no non-resource URL, nothing outside
// permitted().
func checkRulesMinimal(t *testing.T, m *manifest) {
	var rules []rbacv1.PolicyRule
	for _, cr := range all[*rbacv1.ClusterRole](m) {
		rules = append(rules, cr.Rules...)
	}
	for _, r := range all[*rbacv1.Role](m) {
		rules = append(rules, r.Rules...)
	}
	ok := permitted()
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 || len(r.APIGroups) == 0 || len(r.Resources) == 0 || len(r.Verbs) == 0 {
			t.Errorf("rule %+v: want API groups, resources and verbs, no non-resource URLs", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if strings.Contains(g+res+v, "*") || !ok[grant{g, res, v}] {
						t.Errorf("rule grants %q on %q in group %q: not needed", v, res, g)
					}
				}
			}
		}
	}
}

// checkRBAC: minimal, and enough for what the arguments ask the
// controller to do; the e2e test TestChartRBACIsEnough runs the real
// controller with the default variant's grants.
func checkRBAC(t *testing.T, m *manifest, c controller) {
	checkRulesMinimal(t, m)
	if len(all[*rbacv1.ClusterRole](m)) == 0 {
		return // rbac.create=false: the operator grants it
	}
	a := bindings(t, m, c.pod.Spec.ServiceAccountName)
	need := func(ns string, gs []grant) {
		t.Helper()
		for _, g := range gs {
			if !a.can(ns, g) {
				t.Errorf("cannot %s %s.%s in namespace %q", g.verb, g.resource, g.group, ns)
			}
		}
	}
	need("", slices.Concat(expand(clusterReads, readVerbs), expand(clusterStatus, statusVerbs)))
	watched := c.flags["watch-namespace"] // "" means cluster-wide
	need(watched, slices.Concat(expand(readResources, readVerbs), expand(statusResources, statusVerbs), expand(eventResources, eventVerbs)))
	if watched != "" {
		checkConfined(t, a, c)
	}
	if ref, ok := c.flags["publish-service"]; ok {
		need(strings.Split(ref, "/")[0], expand([]grant{{"", "services", ""}}, readVerbs))
	}
	if ref, ok := c.flags["default-tls-secret"]; ok {
		need(strings.Split(ref, "/")[0], expand([]grant{{"", "secrets", ""}}, readVerbs))
	}
	if _, ok := c.flags["leader-elect"]; ok {
		ns := c.flags["leader-election-namespace"]
		need(ns, slices.Concat(expand([]grant{{"coordination.k8s.io", "leases", ""}}, leaseVerbs), expand(eventResources, eventVerbs)))
	}
}

// checkConfined: with --watch-namespace nothing namespaced is granted
// cluster-wide, and no Secret can be read in an unrelated namespace.
func checkConfined(t *testing.T, a authz, c controller) {
	for _, r := range a.cluster {
		clusterScoped := func(res string) bool {
			return slices.ContainsFunc(slices.Concat(clusterReads, clusterStatus), func(g grant) bool { return g.resource == res })
		}
		if !slices.ContainsFunc(r.Resources, clusterScoped) || slices.ContainsFunc(r.Resources, func(res string) bool { return !clusterScoped(res) }) {
			t.Errorf("watchNamespace set, yet cluster-wide rule %+v", r)
		}
	}
	if a.can("kube-system", grant{"", "secrets", "list"}) {
		t.Error("watchNamespace set, yet Secrets in kube-system are readable")
	}
}
