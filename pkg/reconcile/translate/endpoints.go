package translate

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// AppProtocolH2C on a Service port makes Baton speak HTTP/2 without TLS to
// it (the well-known value from the Service API documentation).
const AppProtocolH2C = "kubernetes.io/h2c"

// portRef selects a Service port by number or, when number is 0, by name.
type portRef struct {
	number int32
	name   string
}

func (p portRef) String() string {
	if p.number != 0 {
		return fmt.Sprint(p.number)
	}
	return fmt.Sprintf("%q", p.name)
}

// servicePort is a resolved Service port and its endpoints.
type servicePort struct {
	key   types.NamespacedName
	port  corev1.ServicePort
	ready []snapshot.Endpoint
	total int
	// forbidden are the addresses dropped by the address policy; they
	// count in neither ready nor total.
	forbidden forbiddenAddresses
}

// resolveService finds the Service port ref names in namespace ns and its
// endpoints, or says why it cannot.
func (x *index) resolveService(ns, name string, ref portRef) (servicePort, *Warning) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	svc, ok := x.services[key]
	if !ok {
		return servicePort{}, warnf(ReasonServiceNotFound, "Service %q not found", key)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return servicePort{}, warnf(ReasonUnsupportedService,
			"Service %q is of type ExternalName, which Baton does not support; use an Upstream with static endpoints", key)
	}
	port, w := findPort(svc, ref)
	if w != nil {
		return servicePort{}, w
	}
	sp := servicePort{key: key, port: port}
	sp.ready, sp.total, sp.forbidden = x.endpoints(key, port.Name)
	return sp, nil
}

func findPort(svc *corev1.Service, ref portRef) (corev1.ServicePort, *Warning) {
	if ref.number == 0 && ref.name == "" {
		return corev1.ServicePort{}, warnf(ReasonPortNotFound,
			"backend for Service %q names neither a port number nor a port name", keyOf(svc))
	}
	for _, p := range svc.Spec.Ports {
		if (ref.number != 0 && p.Port == ref.number) || (ref.number == 0 && p.Name == ref.name) {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				return p, warnf(ReasonPortNotFound,
					"port %s of Service %q uses protocol %s; only TCP can be proxied", ref, keyOf(svc), p.Protocol)
			}
			return p, nil
		}
	}
	return corev1.ServicePort{}, warnf(ReasonPortNotFound, "Service %q has no port %s", keyOf(svc), ref)
}

// endpoints lists the ready addresses of the Service port called portName
// and counts all of its addresses. An address listed by several slices (as
// happens while slices are rebalanced) counts once, ready if any says so.
// Addresses the address policy forbids are left out and returned apart:
// the API server refuses loopback, link-local and link-local multicast
// EndpointSlice addresses, but not other multicast or broadcast ones, and
// slices may be written by any controller.
func (x *index) endpoints(svc types.NamespacedName, portName string) ([]snapshot.Endpoint, int, forbiddenAddresses) {
	readiness := map[netip.AddrPort]bool{}
	var forbidden forbiddenAddresses
	for _, s := range x.slices[svc] {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		target, ok := slicePort(s, portName)
		if !ok {
			continue
		}
		for i := range s.Endpoints {
			x.addEndpoint(readiness, &forbidden, &s.Endpoints[i], target)
		}
	}
	var ready []snapshot.Endpoint
	for ap, ok := range readiness {
		if ok {
			ready = append(ready, snapshot.Endpoint{Address: ap.String(), Weight: 1})
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Address < ready[j].Address })
	return ready, len(readiness), forbidden
}

func (x *index) addEndpoint(readiness map[netip.AddrPort]bool, forbidden *forbiddenAddresses, ep *discoveryv1.Endpoint, port uint16) {
	// The EndpointSlice API says a nil ready condition is to be read as ready.
	ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
	for _, a := range ep.Addresses {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			continue
		}
		if class := forbiddenClass(addr, x.allowLoopback); class != "" {
			forbidden.add(addr, class)
			continue
		}
		ap := netip.AddrPortFrom(addr.Unmap(), port)
		readiness[ap] = readiness[ap] || ready
	}
}

// slicePort finds the target port of the Service port called name: the
// slice port of the same name carries the resolved targetPort.
func slicePort(s *discoveryv1.EndpointSlice, name string) (uint16, bool) {
	for _, p := range s.Ports {
		pname := ""
		if p.Name != nil {
			pname = *p.Name
		}
		tcp := p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP
		if pname == name && tcp && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// serviceUpstream is the upstream an Ingress service backend routes to. Its
// name uses the port number, so backends naming the same port by number and
// by name share one upstream.
func serviceUpstream(sp servicePort) snapshot.Upstream {
	protocol := snapshot.ProtocolHTTP1
	if sp.port.AppProtocol != nil && *sp.port.AppProtocol == AppProtocolH2C {
		protocol = snapshot.ProtocolH2C
	}
	return snapshot.Upstream{
		Name:      fmt.Sprintf("service/%s/%s/%d", sp.key.Namespace, sp.key.Name, sp.port.Port),
		Endpoints: sp.ready,
		Policy:    snapshot.PolicyRoundRobin,
		Protocol:  protocol,
		Source:    sp.key.String(),
	}
}
