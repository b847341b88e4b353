package gateway

import (
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// TestGatewayClassStatus: our classes are Accepted with the features we
// claim; other controllers' classes get nothing from us.
func TestGatewayClassStatus(t *testing.T) {
	params := class("with-params", ControllerName)
	params.Spec.ParametersRef = &gatewayv1.ParametersReference{Group: "x.io", Kind: "P", Name: "p"}
	out := Translate(input(class("theirs", "example.com/other"), params))
	if len(out.Classes) != 2 || out.Classes[0].Name != ourClass || out.Classes[1].Name != "with-params" {
		t.Fatalf("classes: %+v", out.Classes)
	}
	ours := out.Classes[0].Status
	if got := reasonOf(ours.Conditions, gatewayv1.GatewayClassConditionStatusAccepted); got != "True/Accepted" {
		t.Errorf("Accepted %s", got)
	}
	if ours.Conditions[0].ObservedGeneration != 3 {
		t.Errorf("observedGeneration %d", ours.Conditions[0].ObservedGeneration)
	}
	mustEqualJSON(t, "supportedFeatures", ours.SupportedFeatures, SupportedFeatures)
	if got := reasonOf(out.Classes[1].Status.Conditions, gatewayv1.GatewayClassConditionStatusAccepted); got != "False/InvalidParameters" {
		t.Errorf("with parametersRef: Accepted %s", got)
	}
}

// TestListenerConditions: each listener problem gets the spec's reason on
// the listener, and the listener serves nothing.
func TestListenerConditions(t *testing.T) {
	wrongKind := gatewayv1.SecretObjectReference{Kind: ptr(gatewayv1.Kind("ConfigMap")), Name: "cert"}
	cases := []struct {
		name     string
		objs     []any
		listener gwOption
		typ      gatewayv1.ListenerConditionType
		want     string
	}{
		{"UnsupportedProtocol", nil, listenerOf("l", gatewayv1.TCPProtocolType, 80), gatewayv1.ListenerConditionAccepted, "False/UnsupportedProtocol"},
		{"PortUnavailable", nil, httpListener("l", 9999), gatewayv1.ListenerConditionAccepted, "False/PortUnavailable"},
		{"HTTPS on an HTTP port is PortUnavailable", []any{tlsSecret("team", "cert")},
			httpsListener("l", 80, []gatewayv1.SecretObjectReference{secretRef("", "cert")}), gatewayv1.ListenerConditionAccepted, "False/PortUnavailable"},
		{"InvalidCertificateRef: missing Secret", nil,
			httpsListener("l", 443, []gatewayv1.SecretObjectReference{secretRef("", "cert")}), gatewayv1.ListenerConditionResolvedRefs, "False/InvalidCertificateRef"},
		{"InvalidCertificateRef: not a Secret", nil,
			httpsListener("l", 443, []gatewayv1.SecretObjectReference{wrongKind}), gatewayv1.ListenerConditionResolvedRefs, "False/InvalidCertificateRef"},
		{"RefNotPermitted: another namespace without a grant", []any{tlsSecret("certs", "cert")},
			httpsListener("l", 443, []gatewayv1.SecretObjectReference{secretRef("certs", "cert")}), gatewayv1.ListenerConditionResolvedRefs, "False/RefNotPermitted"},
		{"InvalidRouteKinds", nil, httpListener("l", 80, allowKinds("TCPRoute")), gatewayv1.ListenerConditionResolvedRefs, "False/InvalidRouteKinds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(input(append(tc.objs, gw("team", "gw", 0, tc.listener, httpListener("ok", 8080)))...))
			ls := listenerStatus(t, out, "team/gw", "l")
			if got := reasonOf(ls.Conditions, tc.typ); got != tc.want {
				t.Fatalf("%s %s, want %s", tc.typ, got, tc.want)
			}
			if got := reasonOf(ls.Conditions, gatewayv1.ListenerConditionProgrammed); got != "False/Invalid" {
				t.Errorf("Programmed %s", got)
			}
			st := gatewayStatus(t, out, "team/gw")
			if got := reasonOf(st.Conditions, gatewayv1.GatewayConditionAccepted); got != "True/ListenersNotValid" {
				t.Errorf("Gateway Accepted %s", got)
			}
			for _, g := range out.Gateways {
				for _, p := range g.Ports {
					if p.Port != 8080 {
						t.Errorf("port %d of the invalid listener is served", p.Port)
					}
				}
			}
		})
	}
}

// TestCertificates: a certificate in another namespace is used when a
// ReferenceGrant allows it; a listener without hostname serves its names.
func TestCertificates(t *testing.T) {
	out := Translate(input(tlsSecret("certs", "cert"), grant("certs", "Gateway", "team", "", "Secret"),
		gw("team", "gw", 0, httpsListener("l", 443, []gatewayv1.SecretObjectReference{secretRef("certs", "cert")}))))
	dataPlaneCheck(t, out)
	ls := listenerStatus(t, out, "team/gw", "l")
	if got := reasonOf(ls.Conditions, gatewayv1.ListenerConditionResolvedRefs); got != "True/ResolvedRefs" {
		t.Fatalf("ResolvedRefs %s", got)
	}
	p := out.Gateways[0].Ports[0]
	if !p.TLS || len(p.Certificates) != 1 || p.Certificates[0].Source != "certs/cert" {
		t.Fatalf("port %+v", p)
	}
	mustEqualJSON(t, "certificate hosts", p.Certificates[0].Hosts, []string{"*.example.com", "example.com"})
}

// TestConflictedListeners: the first listener of a port keeps it; a later
// one of another protocol, or the same hostname, is Conflicted.
func TestConflictedListeners(t *testing.T) {
	out := Translate(input(tlsSecret("team", "cert"), gw("team", "gw", 0,
		httpListener("first", 80, hostname("a.example.com")),
		httpListener("same-host", 80, hostname("a.example.com")),
		httpsListener("other-protocol", 80, []gatewayv1.SecretObjectReference{secretRef("", "cert")}),
		httpListener("other-host", 80, hostname("b.example.com")),
	)))
	want := map[string]string{"first": "False/NoConflicts", "same-host": "True/HostnameConflict",
		"other-protocol": "True/ProtocolConflict", "other-host": "False/NoConflicts"}
	for name, w := range want {
		if got := reasonOf(listenerStatus(t, out, "team/gw", name).Conditions, gatewayv1.ListenerConditionConflicted); got != w {
			t.Errorf("%s: Conflicted %s, want %s", name, got, w)
		}
	}
}

// TestRouteAcceptance: every reason the spec gives for Accepted.
func TestRouteAcceptance(t *testing.T) {
	b := rule(backendTo(svcRef("team/web", 80)))
	gateway := gw("team", "gw", 0,
		httpListener("same", 80, hostname("same.example.com")),
		httpListener("all", 80, hostname("*.all.example.com"), allowFrom(gatewayv1.NamespacesFromAll, nil)),
		httpListener("selected", 8080, allowFrom(gatewayv1.NamespacesFromSelector, map[string]string{"gw": "yes"})),
		httpListener("grpc-only", 80, hostname("grpc.example.com"), allowKinds("GRPCRoute")))
	cases := []struct {
		name  string
		route any
		want  string
	}{
		{"attached", httpRoute("team", "r", 0, parent("gw"), b), "True/Accepted"},
		{"NoMatchingParent: sectionName", httpRoute("team", "r", 0, parent("gw", section("nope")), b), "False/NoMatchingParent"},
		{"NoMatchingParent: port", httpRoute("team", "r", 0, parent("gw", onPort(81)), b), "False/NoMatchingParent"},
		{"NotAllowedByListeners: namespace Same", httpRoute("other", "r", 0, parent("team/gw", section("same")), b), "False/NotAllowedByListeners"},
		{"NotAllowedByListeners: kinds", httpRoute("team", "r", 0, parent("gw", section("grpc-only")), b), "False/NotAllowedByListeners"},
		{"NotAllowedByListeners: selector", httpRoute("plain", "r", 0, parent("team/gw", section("selected")), b), "False/NotAllowedByListeners"},
		{"selector matches", httpRoute("labelled", "r", 0, parent("team/gw", section("selected")), b), "True/Accepted"},
		{"namespace All", httpRoute("other", "r", 0, parent("team/gw", section("all")), hostnames("x.all.example.com"), b), "True/Accepted"},
		{"NoMatchingListenerHostname", httpRoute("team", "r", 0, parent("gw", section("same")), hostnames("other.example.com"), b),
			"False/NoMatchingListenerHostname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(input(gateway, service("team", "web", ""), grant("team", "HTTPRoute", "other", "", "Service"),
				grant("team", "HTTPRoute", "plain", "", "Service"), grant("team", "HTTPRoute", "labelled", "", "Service"),
				namespace("labelled", map[string]string{"gw": "yes"}), namespace("plain", nil), tc.route))
			dataPlaneCheck(t, out)
			ps := parentStatus(t, out, tc.route.(gatewayv1.HTTPRoute).Namespace+"/r")
			if got := reasonOf(ps.Conditions, gatewayv1.RouteConditionAccepted); got != tc.want {
				t.Fatalf("Accepted %s, want %s", got, tc.want)
			}
			if ps.ControllerName != ControllerName || ps.Conditions[0].ObservedGeneration != 3 {
				t.Errorf("parent status %+v", ps)
			}
		})
	}
}

// TestAttachedRoutes counts the routes attached to each listener.
func TestAttachedRoutes(t *testing.T) {
	b := rule(backendTo(svcRef("web", 80)))
	out := Translate(basic(
		httpRoute("team", "one", 0, parent("gw"), b),
		httpRoute("team", "two", 1, parent("gw", section("http")), b),
		httpRoute("team", "elsewhere", 2, parent("other-gw"), b),
	))
	if got := listenerStatus(t, out, "team/gw", "http").AttachedRoutes; got != 2 {
		t.Fatalf("attachedRoutes %d, want 2", got)
	}
	if len(out.HTTPRoutes) != 2 {
		t.Fatalf("a route to a Gateway that is not ours got a status: %+v", out.HTTPRoutes)
	}
}

// TestBackendReasons: every ResolvedRefs reason; the route still serves,
// and its invalid backend answers 500 (weight 0 only).
func TestBackendReasons(t *testing.T) {
	cases := []struct {
		name string
		ref  gatewayv1.BackendRef
		want string
	}{
		{"resolved", svcRef("web", 80), "True/ResolvedRefs"},
		{"BackendNotFound: no Service", svcRef("nope", 80), "False/BackendNotFound"},
		{"BackendNotFound: no port", svcRef("web", 81), "False/BackendNotFound"},
		{"InvalidKind", kindRef("example.com", "Bucket", "b"), "False/InvalidKind"},
		{"RefNotPermitted", svcRef("elsewhere/web", 80), "False/RefNotPermitted"},
		{"UnsupportedProtocol", svcRef("odd", 80), "False/UnsupportedProtocol"},
		{"BackendNotFound: no Upstream", kindRef("baton.dev", "Upstream", "nope"), "False/BackendNotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Translate(basic(service("elsewhere", "web", ""), service("team", "odd", "example.com/smtp"),
				httpRoute("team", "r", 0, parent("gw"), rule(backendTo(tc.ref)))))
			dataPlaneCheck(t, out)
			ps := parentStatus(t, out, "team/r")
			if got := reasonOf(ps.Conditions, gatewayv1.RouteConditionResolvedRefs); got != tc.want {
				t.Fatalf("ResolvedRefs %s, want %s", got, tc.want)
			}
			if got := reasonOf(ps.Conditions, gatewayv1.RouteConditionAccepted); got != "True/Accepted" {
				t.Errorf("Accepted %s", got)
			}
			r := routesOf(out, "team/gw", 80, "")[0]
			if tc.want != "True/ResolvedRefs" && (len(r.Backends) != 1 || r.Backends[0].Weight != 0) {
				t.Errorf("an invalid backend must answer 500: %+v", r)
			}
		})
	}
}

// TestWeightedBackends keep their weights; a grant allows another
// namespace's Service; an Upstream backend uses the Upstream itself.
func TestWeightedBackends(t *testing.T) {
	out := Translate(basic(service("elsewhere", "web", ""), grant("elsewhere", "HTTPRoute", "team", "", "Service"),
		httpRoute("team", "r", 0, parent("gw"), rule(
			backendTo(weighted(svcRef("web", 80), 90)), backendTo(weighted(svcRef("elsewhere/web", 80), 10)),
			backendTo(weighted(svcRef("web", 80), 0))))))
	dataPlaneCheck(t, out)
	r := routesOf(out, "team/gw", 80, "")[0]
	mustEqualJSON(t, "backends", r.Backends, []any{
		map[string]any{"Upstream": "service/team/web/80", "Weight": 90},
		map[string]any{"Upstream": "service/elsewhere/web/80", "Weight": 10},
		map[string]any{"Upstream": "service/team/web/80", "Weight": 0},
	})
}

// TestHostnameIntersection follows the spec's examples.
func TestHostnameIntersection(t *testing.T) {
	cases := []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"", []string{"a.example.com"}, []string{"a.example.com"}},
		{"a.example.com", nil, []string{"a.example.com"}},
		{"a.example.com", []string{"*.example.com", "b.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"a.example.com", "x.y.example.com", "example.com"}, []string{"a.example.com", "x.y.example.com"}},
		{"*.example.com", []string{"*.a.example.com"}, []string{"*.a.example.com"}},
		{"*.a.example.com", []string{"*.example.com"}, []string{"*.a.example.com"}},
		{"a.example.com", []string{"b.example.com"}, nil},
		{"", []string{strings.Repeat("a", 64) + ".example.com", "ok.example.com"}, []string{"ok.example.com"}},
	}
	for _, tc := range cases {
		mustEqualJSON(t, tc.listener+" ∩ "+joinHosts(tc.route), intersect(tc.listener, tc.route), tc.want)
	}
}

func joinHosts(hs []string) string {
	s := ""
	for _, h := range hs {
		s += h + ","
	}
	return s
}

// TestSupportedFeaturesAreStandard: Baton claims only features of the
// standard channel, whose CRDs the chart installs and the conformance
// harness runs against. An experimental feature's fields (HTTPRoute
// rules[].retry) are pruned by standard CRDs, so its tests cannot pass.
func TestSupportedFeaturesAreStandard(t *testing.T) {
	for _, f := range SupportedFeatures {
		got := features.GetFeature(features.FeatureName(f.Name))
		if got.Channel != features.FeatureChannelStandard {
			t.Errorf("%s is in channel %q", f.Name, got.Channel)
		}
	}
}
