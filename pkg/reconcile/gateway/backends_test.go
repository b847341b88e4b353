package gateway

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func grpcRoute(ns, name string, matches []gatewayv1.GRPCRouteMatch, ref gatewayv1.BackendRef) gatewayv1.GRPCRoute {
	return gatewayv1.GRPCRoute{ObjectMeta: meta(ns, name, 0), Spec: gatewayv1.GRPCRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parentRef("gw")}},
		Rules:           []gatewayv1.GRPCRouteRule{{Matches: matches, BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: ref}}}},
	}}
}

func methodMatch(typ gatewayv1.GRPCMethodMatchType, service, method string) gatewayv1.GRPCRouteMatch {
	m := &gatewayv1.GRPCMethodMatch{Type: &typ}
	if service != "" {
		m.Service = &service
	}
	if method != "" {
		m.Method = &method
	}
	return gatewayv1.GRPCRouteMatch{Method: m}
}

// TestGRPCRoute: methods become paths on /service/method, and the
// backend is the Service port spoken to over h2c (an upstream apart from
// the HTTP/1.1 one an Ingress would use).
func TestGRPCRoute(t *testing.T) {
	cases := []struct {
		name  string
		match gatewayv1.GRPCRouteMatch
		typ   snapshot.PathType
		path  string
	}{
		{"no match", gatewayv1.GRPCRouteMatch{}, snapshot.PathPrefix, "/"},
		{"service and method", methodMatch(gatewayv1.GRPCMethodMatchExact, "pkg.Svc", "Get"), snapshot.PathExact, "/pkg.Svc/Get"},
		{"service only", methodMatch(gatewayv1.GRPCMethodMatchExact, "pkg.Svc", ""), snapshot.PathPrefix, "/pkg.Svc"},
		{"method only", methodMatch(gatewayv1.GRPCMethodMatchExact, "", "Get"), snapshot.PathRegularExpression, "/[^/]+/Get"},
		{"regular expressions", methodMatch(gatewayv1.GRPCMethodMatchRegularExpression, "pkg\\..*", ""), snapshot.PathRegularExpression,
			"/(?:pkg\\..*)/[^/]+"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(basic(grpcRoute("team", "g", []gatewayv1.GRPCRouteMatch{tc.match}, svcRef("web", 80))))
			dataPlaneCheck(t, out)
			rs := routesOf(out, "team/gw", 80, "")
			probe := snapshot.Route{PathType: tc.typ, Path: tc.path}
			if snapshot.CheckRoute(&probe) != nil { // regular expressions wait for the data plane
				if len(rs) != 0 {
					t.Fatalf("a route the validator refuses was emitted: %+v", rs)
				}
				return
			}
			if len(rs) != 1 || rs[0].PathType != tc.typ || rs[0].Path != tc.path || rs[0].Upstream != "service/team/web/80/h2c" {
				t.Fatalf("routes %+v", rs)
			}
			if u := upstreamNamed(out, rs[0].Upstream); u == nil || u.Protocol != snapshot.ProtocolH2C || len(u.Endpoints) != 1 {
				t.Fatalf("upstream %+v", u)
			}
		})
	}
}

func upstreamNamed(out Output, name string) *snapshot.Upstream {
	for i := range out.Upstreams {
		if out.Upstreams[i].Name == name {
			return &out.Upstreams[i]
		}
	}
	return nil
}

// TestBackendTLSPolicy: the targeted Service is spoken to over HTTPS with
// the policy's SNI and CA; a CA that cannot be loaded fails closed.
func TestBackendTLSPolicy(t *testing.T) {
	policy := func(name, caName string) gatewayv1.BackendTLSPolicy {
		return gatewayv1.BackendTLSPolicy{ObjectMeta: meta("team", name, 0), Spec: gatewayv1.BackendTLSPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
				Kind: "Service", Name: "web"}}},
			Validation: gatewayv1.BackendTLSPolicyValidation{Hostname: "web.example.com",
				CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: gatewayv1.ObjectName(caName)}}},
		}}
	}
	ca := corev1.ConfigMap{ObjectMeta: meta("team", "ca", 0), Data: map[string]string{"ca.crt": string(testCert.CertPEM)}}
	route := httpRoute("team", "r", 0, parent("gw"), rule(backendTo(svcRef("web", 80))))
	for name, tc := range map[string]struct {
		policy     gatewayv1.BackendTLSPolicy
		endpoints  int
		conditions string
	}{
		"CA from a ConfigMap": {policy("p", "ca"), 1, "True/Accepted True/ResolvedRefs"},
		"CA missing":          {policy("p", "nope"), 0, "False/NoValidCACertificate False/InvalidCACertificateRef"},
	} {
		t.Run(name, func(t *testing.T) {
			out := Translate(basic(ca, tc.policy, route))
			dataPlaneCheck(t, out)
			r := routesOf(out, "team/gw", 80, "")[0]
			u := upstreamNamed(out, r.Upstream)
			if u == nil || u.Name != "service/team/web/80/tls/team/p" || u.Protocol != snapshot.ProtocolHTTPS || u.TLS.ServerName != "web.example.com" {
				t.Fatalf("upstream %+v", u)
			}
			if len(u.Endpoints) != tc.endpoints {
				t.Fatalf("%d endpoints, want %d", len(u.Endpoints), tc.endpoints)
			}
			if len(out.BackendTLSPolicies) != 1 || len(out.BackendTLSPolicies[0].Ancestors) != 1 {
				t.Fatalf("policy status %+v", out.BackendTLSPolicies)
			}
			a := out.BackendTLSPolicies[0].Ancestors[0]
			got := reasonOf(a.Conditions, gatewayv1.PolicyConditionAccepted) + " " + reasonOf(a.Conditions, gatewayv1.BackendTLSPolicyConditionResolvedRefs)
			if got != tc.conditions || a.AncestorRef.Name != "gw" || string(*a.AncestorRef.Namespace) != "team" || a.ControllerName != ControllerName {
				t.Fatalf("ancestor %+v: %s, want %s", a.AncestorRef, got, tc.conditions)
			}
		})
	}
}

// TestUpstreamBackend: a backendRef to a baton.dev Upstream uses it with
// its policies and health checks, under the Ingress translation's name.
func TestUpstreamBackend(t *testing.T) {
	up := v1alpha1.Upstream{ObjectMeta: meta("team", "pool", 0), Spec: v1alpha1.UpstreamSpec{
		Endpoints:     []v1alpha1.StaticEndpoint{{Address: "10.2.0.1", Port: 8080}},
		LoadBalancing: v1alpha1.LoadBalancing{Policy: v1alpha1.PolicyLeastRequest},
		HealthCheck:   &v1alpha1.HealthCheck{Active: &v1alpha1.ActiveHealthCheck{Path: "/healthz"}},
	}}
	out := Translate(basic(up, httpRoute("team", "r", 0, parent("gw"), rule(backendTo(kindRef("baton.dev", "Upstream", "pool"))))))
	dataPlaneCheck(t, out)
	r := routesOf(out, "team/gw", 80, "")[0]
	u := upstreamNamed(out, r.Upstream)
	if u == nil || u.Name != "upstream/team/pool" || u.Policy != snapshot.PolicyLeastRequest || u.HealthCheck == nil || u.HealthCheck.Path != "/healthz" {
		t.Fatalf("upstream %+v", u)
	}
}

// TestPartlyInvalidBackends: in a rule with a usable and an unusable
// backend, the unusable one keeps its weight as an Invalid backend, whose
// share the data plane answers with 500; it is not an upstream without
// endpoints, which would answer 503.
func TestPartlyInvalidBackends(t *testing.T) {
	out := Translate(basic(httpRoute("team", "r", 0, parent("gw"), rule(
		backendTo(weighted(svcRef("web", 80), 3)), backendTo(weighted(svcRef("nope", 80), 1))))))
	dataPlaneCheck(t, out)
	r := routesOf(out, "team/gw", 80, "")[0]
	want := []snapshot.WeightedBackend{{Upstream: "service/team/web/80", Weight: 3}, {Invalid: true, Weight: 1}}
	if !slices.Equal(r.Backends, want) {
		t.Errorf("backends %+v, want %+v", r.Backends, want)
	}
	if got := reasonOf(parentStatus(t, out, "team/r").Conditions, gatewayv1.RouteConditionResolvedRefs); got != "False/BackendNotFound" {
		t.Errorf("ResolvedRefs %s", got)
	}
}

// TestBackendTLSPolicyOnHTTPSPort: a Service port whose appProtocol says
// HTTPS (any case, as the suite's "HTTPS") is served when a
// BackendTLSPolicy says how to verify it, and refused without one rather
// than spoken to in cleartext or without verification.
func TestBackendTLSPolicyOnHTTPSPort(t *testing.T) {
	ca := corev1.ConfigMap{ObjectMeta: meta("team", "ca", 0), Data: map[string]string{"ca.crt": string(testCert.CertPEM)}}
	p := tlsPolicy("p", 0, "ca")
	route := httpRoute("team", "r", 0, parent("gw"), rule(backendTo(svcRef("web", 80))))
	for name, tc := range map[string]struct {
		objs []any
		want string
	}{
		"with a policy":    {[]any{ca, p}, "True/ResolvedRefs"},
		"without a policy": {nil, "False/UnsupportedProtocol"},
	} {
		t.Run(name, func(t *testing.T) {
			out := Translate(input(append(tc.objs, gw("team", "gw", 0, httpListener("http", 80)), service("team", "web", "HTTPS"), route)...))
			dataPlaneCheck(t, out)
			if got := reasonOf(parentStatus(t, out, "team/r").Conditions, gatewayv1.RouteConditionResolvedRefs); got != tc.want {
				t.Errorf("ResolvedRefs %s, want %s", got, tc.want)
			}
		})
	}
}

// TestConflictedBackendTLSPolicy: of two policies for one target the
// older (then the first by name) applies; the other is told Conflicted on
// the same Gateways.
func TestConflictedBackendTLSPolicy(t *testing.T) {
	ca := corev1.ConfigMap{ObjectMeta: meta("team", "ca", 0), Data: map[string]string{"ca.crt": string(testCert.CertPEM)}}
	out := Translate(basic(ca, tlsPolicy("p-2", 0, "ca"), tlsPolicy("p-1", 0, "ca"), tlsPolicy("older", -1, "ca"),
		httpRoute("team", "r", 0, parent("gw"), rule(backendTo(svcRef("web", 80))))))
	got := map[string]string{}
	for _, res := range out.BackendTLSPolicies {
		for _, a := range res.Ancestors {
			got[res.Key.Name] += string(a.AncestorRef.Name) + ":" + reasonOf(a.Conditions, gatewayv1.PolicyConditionAccepted)
		}
	}
	mustEqualJSON(t, "policies", got, map[string]string{"older": "gw:True/Accepted", "p-1": "gw:False/Conflicted", "p-2": "gw:False/Conflicted"})
}

// tlsPolicy targets Service team/web with the CA of ConfigMap caName.
func tlsPolicy(name string, age int, caName string) gatewayv1.BackendTLSPolicy {
	return gatewayv1.BackendTLSPolicy{ObjectMeta: meta("team", name, age), Spec: gatewayv1.BackendTLSPolicySpec{
		TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
			Kind: "Service", Name: "web"}}},
		Validation: gatewayv1.BackendTLSPolicyValidation{Hostname: "web.example.com",
			CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: gatewayv1.ObjectName(caName)}}},
	}}
}
