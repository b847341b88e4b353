package reconcile

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestStaticAddresses(t *testing.T) {
	got := staticAddresses([]string{"lb.example.com", "203.0.113.7", "2001:db8::1", "203.0.113.7"})
	want := loadBalancer{{IP: "2001:db8::1"}, {IP: "203.0.113.7"}, {Hostname: "lb.example.com"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestServiceAddresses(t *testing.T) {
	tests := []struct {
		name string
		svc  corev1.Service
		want loadBalancer
	}{
		{"load balancer with ports and external IPs", corev1.Service{
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.10", ExternalIPs: []string{"198.51.100.2"}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
				{Hostname: "abc.elb.example.com"},
				{IP: "198.51.100.1", Ports: []corev1.PortStatus{{Port: 443, Protocol: corev1.ProtocolTCP}}},
			}}}},
			loadBalancer{
				{IP: "198.51.100.1", Ports: []networkingv1.IngressPortStatus{{Port: 443, Protocol: corev1.ProtocolTCP}}},
				{IP: "198.51.100.2"}, {Hostname: "abc.elb.example.com"}}},
		{"pending load balancer publishes nothing", corev1.Service{
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.10"}}, nil},
		{"node port prefers external IPs", corev1.Service{
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", ExternalIPs: []string{"198.51.100.3"}}},
			loadBalancer{{IP: "198.51.100.3"}}},
		{"node port falls back to the cluster IP", corev1.Service{
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10"}},
			loadBalancer{{IP: "10.96.0.10"}}},
		{"cluster IP", corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.11"}}, loadBalancer{{IP: "10.96.0.11"}}},
		{"headless publishes nothing", corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}, nil},
		{"external name", corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "edge.example.com"}},
			loadBalancer{{Hostname: "edge.example.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := serviceAddresses(&tc.svc); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSameAddressesIgnoresOrder(t *testing.T) {
	ours := staticAddresses([]string{"198.51.100.1", "lb.example.com"})
	have := loadBalancer{{Hostname: "lb.example.com"}, {IP: "198.51.100.1"}}
	if !sameAddresses(have, ours) {
		t.Error("same set in another order compared different")
	}
	if sameAddresses(have[:1], ours) || sameAddresses(nil, ours) || !sameAddresses(nil, loadBalancer{}) {
		t.Error("different sets compared equal, or empty sets different")
	}
	if have[0].Hostname != "lb.example.com" {
		t.Error("sameAddresses reordered its argument")
	}
}
