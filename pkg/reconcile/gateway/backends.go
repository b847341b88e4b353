package gateway

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// invalidBackend stands for a backendRef that cannot be used: it has no
// endpoints, and a rule whose only backends are invalid names it with
// weight 0, which the data plane answers with 500, as the spec asks.
var invalidBackend = snapshot.Upstream{Name: "gateway/invalid-backend", Policy: snapshot.PolicyRoundRobin,
	Protocol: snapshot.ProtocolHTTP1, Source: "gateway"}

// Protocol suffixes keep an upstream that Gateway API makes speak another
// protocol apart from the Ingress upstream of the same Service port.
const (
	h2cSuffix = "/h2c"
	tlsSuffix = "/tls/"
)

// appProtocols are the Service appProtocols an HTTP backend may have;
// "https" (IANA names ignore case) also, when a BackendTLSPolicy applies.
var appProtocols = map[string]bool{"": true, "http": true, "kubernetes.io/h2c": true, "kubernetes.io/ws": true}

// backend resolves one backendRef of a route; grpc asks for HTTP/2.
func (t *translator) backend(rt *routeTranslation, ref *gatewayv1.BackendObjectReference, grpc bool) (snapshot.Upstream, *problem) {
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	key := types.NamespacedName{Namespace: rt.key.Namespace, Name: string(ref.Name)}
	if ref.Namespace != nil {
		key.Namespace = string(*ref.Namespace)
	}
	isService, isUpstream := group == "" && kind == "Service", group == v1alpha1.GroupName && kind == v1alpha1.UpstreamKind
	if !isService && !isUpstream {
		return snapshot.Upstream{}, problemf(gatewayv1.RouteReasonInvalidKind, "backendRef %s/%s %s is not a Service or a %s %s", group, kind, ref.Name, v1alpha1.GroupName, v1alpha1.UpstreamKind)
	}
	if key.Namespace != rt.key.Namespace {
		rt.depend(depGrants, types.NamespacedName{})
	}
	if key.Namespace != rt.key.Namespace && !t.granted(Group, rt.kind, rt.key.Namespace, group, kind, key) {
		return snapshot.Upstream{}, problemf(gatewayv1.RouteReasonRefNotPermitted,
			"no ReferenceGrant in namespace %s lets %ss of %s use %s %s", key.Namespace, rt.kind, rt.key.Namespace, kind, key.Name)
	}
	if isUpstream {
		rt.depend(depUpstream, key)
		return t.upstreamBackend(key, grpc)
	}
	if ref.Port == nil {
		return snapshot.Upstream{}, problemf(gatewayv1.RouteReasonBackendNotFound, "backendRef to Service %s needs a port", key)
	}
	rt.depend(depService, key)
	rt.depend(depPolicies, types.NamespacedName{})
	return t.serviceBackend(rt, key, *ref.Port, grpc)
}

func (t *translator) upstreamBackend(key types.NamespacedName, grpc bool) (snapshot.Upstream, *problem) {
	up, found, _ := t.backends.Upstream(key)
	if !found {
		return up, problemf(gatewayv1.RouteReasonBackendNotFound, "Upstream %s not found", key)
	}
	if grpc && up.Protocol == snapshot.ProtocolHTTP1 {
		return up, problemf(gatewayv1.RouteReasonUnsupportedProtocol, "Upstream %s speaks HTTP/1.1; gRPC needs H2C or HTTPS", key)
	}
	return up, nil
}

func (t *translator) serviceBackend(rt *routeTranslation, key types.NamespacedName, port int32, grpc bool) (snapshot.Upstream, *problem) {
	up, failed, _ := t.backends.Service(key, port)
	if failed != nil {
		return up, problemf(gatewayv1.RouteReasonBackendNotFound, "%s", failed.Message)
	}
	sp, _ := t.backends.ServicePort(key, port)
	app := ""
	if sp.AppProtocol != nil {
		app = *sp.AppProtocol
	}
	p := t.policyFor(key, sp.Name)
	if tlsApp := strings.EqualFold(app, "https"); !appProtocols[app] && (!tlsApp || p == nil) {
		if tlsApp {
			return up, problemf(gatewayv1.RouteReasonUnsupportedProtocol, "Service %s port %d has appProtocol %q but no BackendTLSPolicy says how to verify it", key, port, app)
		}
		return up, problemf(gatewayv1.RouteReasonUnsupportedProtocol, "Service %s port %d has appProtocol %q, which Baton does not speak", key, port, app)
	}
	if grpc && up.Protocol != snapshot.ProtocolH2C {
		up.Name, up.Protocol = up.Name+h2cSuffix, snapshot.ProtocolH2C
	}
	if p != nil {
		rt.policies = append(rt.policies, policyUse{key: keyOf(p), problem: t.applyTLSPolicy(rt, &up, p)})
	}
	return up, nil
}

// applyTLSPolicy makes up speak HTTPS as a BackendTLSPolicy says. A CA
// that cannot be loaded leaves up without endpoints: failing closed beats
// skipping verification the user asked for.
func (t *translator) applyTLSPolicy(rt *routeTranslation, up *snapshot.Upstream, p *gatewayv1.BackendTLSPolicy) (first *problem) {
	up.Name += tlsSuffix + p.Namespace + "/" + p.Name
	up.Protocol = snapshot.ProtocolHTTPS
	up.TLS = snapshot.UpstreamTLS{ServerName: string(p.Spec.Validation.Hostname)}
	v := &p.Spec.Validation
	if v.WellKnownCACertificates != nil && len(v.CACertificateRefs) == 0 {
		return nil // the system roots
	}
	for _, ref := range v.CACertificateRefs {
		rt.dependOnCA(p.Namespace, ref)
		ca, problem := t.caOf(p.Namespace, ref)
		if problem != nil && first == nil {
			first = problem
		}
		up.TLS.CAPEM = append(up.TLS.CAPEM, ca...)
	}
	if len(up.TLS.CAPEM) == 0 {
		up.Endpoints = nil
	}
	return first
}

// caOf reads ca.crt from a ConfigMap or Secret of the policy's namespace.
func (t *translator) caOf(ns string, ref gatewayv1.LocalObjectReference) ([]byte, *problem) {
	key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	switch {
	case ref.Group == "" && ref.Kind == "ConfigMap":
		cm := t.configMaps[key]
		if cm == nil {
			return nil, problemf(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef, "ConfigMap %s not found", key)
		}
		if data := cm.Data[v1alpha1.DefaultCAKey]; translate.HoldsCertificate([]byte(data)) {
			return []byte(data), nil
		}
		return nil, problemf(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef, "ConfigMap %s has no PEM certificate in %s", key, v1alpha1.DefaultCAKey)
	case ref.Group == "" && ref.Kind == "Secret":
		ca, w := t.backends.CA(key, "")
		if w != nil {
			return nil, problemf(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef, "%s", w.Message)
		}
		return ca, nil
	}
	return nil, problemf(gatewayv1.BackendTLSPolicyReasonInvalidKind, "caCertificateRef %s/%s %s is not a ConfigMap or Secret", ref.Group, ref.Kind, ref.Name)
}
