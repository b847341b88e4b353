package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Group is the Gateway API group, the default of most references.
const Group = gatewayv1.GroupName

// gateway is one Gateway of an accepted class as the translation sees it.
type gateway struct {
	obj       *gatewayv1.Gateway
	key       types.NamespacedName
	listeners []*listener
	address   addressResult
}

// listener is one listener, its verdicts and what attached to it.
type listener struct {
	spec *gatewayv1.Listener
	// hostname is lower-cased; "" matches any host.
	hostname string
	kinds    []gatewayv1.RouteGroupKind
	certs    []snapshot.Certificate
	// problems are the first False reason of each condition type, if any.
	accepted, resolved, conflicted *problem
	attached                       int32
	// hosts are the routes attached, by host name.
	hosts map[string][]snapshot.Route
}

// problem is a condition's False (or, for Conflicted, True) reason.
type problem struct {
	reason  string
	message string
}

func problemf[T ~string](reason T, format string, args ...any) *problem {
	return &problem{reason: string(reason), message: fmt.Sprintf(format, args...)}
}

// serves reports whether the listener's routes reach the data plane.
func (l *listener) serves() bool {
	return l.accepted == nil && l.resolved == nil && l.conflicted == nil
}

func (t *translator) addGateways(classes map[string]bool) {
	var ours []*gatewayv1.Gateway
	for _, g := range sortedByAge(t.in.Gateways) {
		if classes[string(g.Spec.GatewayClassName)] {
			ours = append(ours, g)
		}
	}
	addrs := assignAddresses(t.in.AddressPool, ours)
	for _, g := range ours {
		gw := &gateway{obj: g, key: keyOf(g), address: addrs[keyOf(g)]}
		for i := range g.Spec.Listeners {
			gw.listeners = append(gw.listeners, t.newListener(g, &g.Spec.Listeners[i]))
		}
		markConflicts(gw.listeners)
		t.gateways[gw.key] = gw
	}
}

func (t *translator) newListener(g *gatewayv1.Gateway, spec *gatewayv1.Listener) *listener {
	l := &listener{spec: spec, hosts: map[string][]snapshot.Route{}}
	if spec.Hostname != nil {
		l.hostname = strings.ToLower(string(*spec.Hostname))
	}
	switch spec.Protocol {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
	default:
		l.accepted = problemf(gatewayv1.ListenerReasonUnsupportedProtocol,
			"protocol %s is not supported; use HTTP or HTTPS", spec.Protocol)
		return l
	}
	l.kinds, l.resolved = supportedKinds(spec.AllowedRoutes)
	if !slices.Contains(t.ports(spec.Protocol), int(spec.Port)) {
		l.accepted = problemf(gatewayv1.ListenerReasonPortUnavailable,
			"the data plane serves %s on ports %v only", spec.Protocol, t.ports(spec.Protocol))
	}
	if spec.Protocol == gatewayv1.HTTPSProtocolType {
		t.listenerTLS(g, l)
	}
	return l
}

func (t *translator) ports(p gatewayv1.ProtocolType) []int {
	if p == gatewayv1.HTTPSProtocolType {
		return t.in.HTTPSPorts
	}
	return t.in.HTTPPorts
}

// routeKinds are the route kinds an HTTP or HTTPS listener can serve.
var routeKinds = []gatewayv1.Kind{"HTTPRoute", "GRPCRoute"}

// supportedKinds are the allowed kinds Baton can serve, and a problem
// naming the others.
func supportedKinds(ar *gatewayv1.AllowedRoutes) ([]gatewayv1.RouteGroupKind, *problem) {
	group := gatewayv1.Group(Group)
	if ar == nil || len(ar.Kinds) == 0 {
		var all []gatewayv1.RouteGroupKind
		for _, k := range routeKinds {
			all = append(all, gatewayv1.RouteGroupKind{Group: &group, Kind: k})
		}
		return all, nil
	}
	var kinds []gatewayv1.RouteGroupKind
	var bad []string
	for _, k := range ar.Kinds {
		if (k.Group == nil || *k.Group == group) && slices.Contains(routeKinds, k.Kind) {
			kinds = append(kinds, gatewayv1.RouteGroupKind{Group: &group, Kind: k.Kind})
			continue
		}
		bad = append(bad, string(k.Kind))
	}
	if len(bad) > 0 {
		return kinds, problemf(gatewayv1.ListenerReasonInvalidRouteKinds, "route kinds %v are not supported", bad)
	}
	return kinds, nil
}

// listenerTLS loads the certificates of an HTTPS listener.
func (t *translator) listenerTLS(g *gatewayv1.Gateway, l *listener) {
	tls := l.spec.TLS
	if tls == nil || len(tls.CertificateRefs) == 0 {
		l.resolved = problemf(gatewayv1.ListenerReasonInvalidCertificateRef, "an HTTPS listener needs tls.certificateRefs")
		return
	}
	if tls.Mode != nil && *tls.Mode != gatewayv1.TLSModeTerminate {
		l.accepted = problemf(gatewayv1.ListenerReasonUnsupportedValue, "tls.mode %s is not supported on HTTPS listeners", *tls.Mode)
		return
	}
	for _, ref := range tls.CertificateRefs {
		cert, p := t.certificate(g.Namespace, ref)
		if p != nil {
			l.resolved = p
			continue
		}
		cert.Hosts = certificateHosts(l.hostname, cert.CertPEM)
		l.certs = append(l.certs, cert)
	}
}

func (t *translator) certificate(ns string, ref gatewayv1.SecretObjectReference) (snapshot.Certificate, *problem) {
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return snapshot.Certificate{}, problemf(gatewayv1.ListenerReasonInvalidCertificateRef,
			"certificateRef %s is not a Secret", ref.Name)
	}
	key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	if ref.Namespace != nil && string(*ref.Namespace) != ns {
		key.Namespace = string(*ref.Namespace)
		if !t.granted(Group, "Gateway", ns, "", "Secret", key) {
			return snapshot.Certificate{}, problemf(gatewayv1.ListenerReasonRefNotPermitted,
				"no ReferenceGrant in namespace %s lets Gateways of %s use Secret %s", key.Namespace, ns, key.Name)
		}
	}
	cert, w := t.backends.Certificate(key)
	if w != nil {
		return cert, problemf(gatewayv1.ListenerReasonInvalidCertificateRef, "%s", w.Message)
	}
	return cert, nil
}

// certificateHosts are the SNI names a listener's certificate serves: its
// hostname, or when it has none the certificate's own DNS names.
func certificateHosts(hostname string, certPEM []byte) []string {
	if hostname != "" {
		return []string{hostname}
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	var hosts []string
	for _, n := range c.DNSNames {
		if h, err := snapshot.NormaliseHost(n); err == nil && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// markConflicts flags listeners that share a port with a listener of
// another protocol, or port, protocol and hostname with an earlier one.
// The first listener of a port (in spec order) keeps it.
func markConflicts(ls []*listener) {
	for i, l := range ls {
		for _, earlier := range ls[:i] {
			if earlier.spec.Port != l.spec.Port || earlier.conflicted != nil {
				continue // a conflicted listener claims nothing
			}
			if earlier.spec.Protocol != l.spec.Protocol {
				l.conflicted = problemf(gatewayv1.ListenerReasonProtocolConflict,
					"port %d is used by listener %s with protocol %s", l.spec.Port, earlier.spec.Name, earlier.spec.Protocol)
				break
			}
			if earlier.hostname == l.hostname {
				l.conflicted = problemf(gatewayv1.ListenerReasonHostnameConflict,
					"listener %s has the same port, protocol and hostname", earlier.spec.Name)
				break
			}
		}
	}
}
