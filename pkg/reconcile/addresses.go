package reconcile

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// loadBalancer is the value written to status.loadBalancer.ingress.
type loadBalancer = []networkingv1.IngressLoadBalancerIngress

// staticAddresses turns --publish-status-address entries into status
// entries: IP addresses as ip, anything else as hostname.
func staticAddresses(addrs []string) loadBalancer {
	var lb loadBalancer
	for _, a := range addrs {
		if isIP(a) {
			lb = append(lb, networkingv1.IngressLoadBalancerIngress{IP: a})
		} else {
			lb = append(lb, networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	return normalize(lb)
}

// serviceAddresses is where clients reach Baton through svc, chosen as
// ingress-nginx does so that tools such as external-dns see the same
// thing: a LoadBalancer's ingress points (none while it is pending) plus
// its external IPs; a NodePort's external IPs, else its cluster IP; a
// ClusterIP's cluster IP (reachable in-cluster only); an ExternalName's
// name.
func serviceAddresses(svc *corev1.Service) loadBalancer {
	var lb loadBalancer
	switch svc.Spec.Type {
	case corev1.ServiceTypeExternalName:
		lb = hostnames(svc.Spec.ExternalName)
	case corev1.ServiceTypeLoadBalancer:
		lb = append(lbIngress(svc.Status.LoadBalancer.Ingress), ips(svc.Spec.ExternalIPs...)...)
	case corev1.ServiceTypeNodePort:
		lb = ips(svc.Spec.ExternalIPs...)
		if len(lb) == 0 {
			lb = ips(clusterIP(svc)...)
		}
	default:
		lb = ips(clusterIP(svc)...)
	}
	return normalize(lb)
}

func lbIngress(in []corev1.LoadBalancerIngress) loadBalancer {
	var lb loadBalancer
	for _, i := range in {
		e := networkingv1.IngressLoadBalancerIngress{IP: i.IP, Hostname: i.Hostname}
		for _, p := range i.Ports {
			e.Ports = append(e.Ports, networkingv1.IngressPortStatus{Port: p.Port, Protocol: p.Protocol, Error: p.Error})
		}
		lb = append(lb, e)
	}
	return lb
}

func clusterIP(svc *corev1.Service) []string {
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		return []string{ip}
	}
	return nil
}

func ips(addrs ...string) loadBalancer {
	var lb loadBalancer
	for _, a := range addrs {
		lb = append(lb, networkingv1.IngressLoadBalancerIngress{IP: a})
	}
	return lb
}

func hostnames(names ...string) loadBalancer {
	var lb loadBalancer
	for _, n := range names {
		if n != "" {
			lb = append(lb, networkingv1.IngressLoadBalancerIngress{Hostname: n})
		}
	}
	return lb
}

// normalize puts IP entries first, sorts by IP then hostname and drops
// repeats, so that equal
// address sets compare equal and a status is rewritten only on a change.
func normalize(lb loadBalancer) loadBalancer {
	slices.SortStableFunc(lb, func(a, b networkingv1.IngressLoadBalancerIngress) int {
		return cmp.Or(compareBool(a.IP == "", b.IP == ""), cmp.Compare(a.IP, b.IP), cmp.Compare(a.Hostname, b.Hostname))
	})
	return slices.CompactFunc(lb, func(a, b networkingv1.IngressLoadBalancerIngress) bool {
		return a.IP == b.IP && a.Hostname == b.Hostname
	})
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
