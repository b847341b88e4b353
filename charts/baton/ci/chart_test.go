package ci

import (
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestVariants holds every lint variant to the invariants of doc.go.
func TestVariants(t *testing.T) {
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			m := render(t, v.args...)
			c := controllerOf(t, m)
			checkArgsAccepted(t, c)
			checkSelector(t, c)
			checkPorts(t, c)
			checkProbes(t, c)
			checkGracePeriod(t, c)
			checkSecurity(t, c)
			checkInitContainers(t, c)
			checkHandoff(t, c)
			checkMode(t, m, c)
			checkNamespaces(t, m)
			checkTrafficService(t, m, c)
			checkMetrics(t, m, c)
			checkIngressClass(t, m, c)
			checkPodDisruptionBudget(t, m, c)
			checkRBAC(t, m, c)
		})
	}
}

// TestDefaultArguments pins the exact command line of a default install
// in each mode: what the README's flag table documents.
func TestDefaultArguments(t *testing.T) {
	common := func(http, https, health string) []string {
		return []string{"--http-bind-address=" + http, "--https-bind-address=" + https,
			"--metrics-bind-address=:10254", "--health-probe-bind-address=" + health,
			"--ingress-class=baton", "--controller-name=baton.dev/ingress-controller",
			"--publish-service=ingress-system/edge-baton",
			"--leader-elect", "--leader-election-namespace=ingress-system", "--leader-election-id=edge-baton-leader",
			"--handoff-socket=/var/run/baton/handoff.sock", "--stay-after-handoff"}
	}
	tail := []string{"--memory-limit=$(BATON_MEMORY_LIMIT)", "--shutdown-grace-period=25s", "--read-header-timeout=10s", "--idle-timeout=60s", "--max-connections=36864"}
	hostNetwork := []string{"--handoff-wait=30s", "--probe-socket=/var/run/baton-probe/probe.sock"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"Deployment", nil, slices.Concat(common(":8080", ":8443", ":10256"), tail)},
		{"DaemonSet", []string{"--set", "mode=DaemonSet"}, slices.Concat(common(":80", ":443", ":10262"), hostNetwork, tail)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := controllerOf(t, render(t, tt.args...))
			if !slices.Equal(c.args, tt.want) {
				t.Errorf("args\n got %q\nwant %q", c.args, tt.want)
			}
		})
	}
}

// TestMaxConnectionsFromMemoryLimit: unless maxConnections is set, the
// connection limit is what the memory limit holds after the reserve, less
// a quarter of headroom, at memoryPerConnectionKiB each (issue 14: with
// 512Mi and 20000 connections a flood OOM-killed the pod first).
func TestMaxConnectionsFromMemoryLimit(t *testing.T) {
	tests := []struct {
		set  []string
		want string
	}{
		{nil, "36864"}, // (512-128) Mi x 3/4 / 8 KiB
		{[]string{"resources.limits.memory=1Gi"}, "86016"},
		{[]string{"resources.limits.memory=2G"}, "170817"},
		{[]string{"resources.limits.memory=1Gi", "memoryPerConnectionKiB=12", "memoryReserveMi=256"}, "49152"},
		{[]string{"maxConnections=5000"}, "5000"},
		{[]string{"maxConnections=0"}, "0"},
		{[]string{"resources.limits=null"}, "20000"},
	}
	for _, tt := range tests {
		var args []string
		for _, s := range tt.set {
			args = append(args, "--set", s)
		}
		c := controllerOf(t, render(t, args...))
		if want := "--max-connections=" + tt.want; !slices.Contains(c.args, want) {
			t.Errorf("%v: args %q, want %s", tt.set, c.args, want)
		}
	}
}

// TestClientAddressArguments: trustedProxies and proxyProtocol become
// flags, placed before the fixed tail so that extraArgs still win.
func TestClientAddressArguments(t *testing.T) {
	c := controllerOf(t, render(t, "--set", "trustedProxies={10.0.0.0/8,fd00::/8}", "--set", "proxyProtocol=true"))
	want := []string{"--trusted-proxies=10.0.0.0/8,fd00::/8", "--proxy-protocol", "--shutdown-grace-period=25s"}
	if i := slices.Index(c.args, want[0]); i < 0 || !slices.Equal(c.args[i:i+3], want) {
		t.Errorf("args %q, want %q in a row", c.args, want)
	}
}

// TestToggles: optional objects exist exactly when their value asks.
func TestToggles(t *testing.T) {
	count := func(m *manifest, kind string) int {
		switch kind {
		case "ServiceMonitor":
			return len(genericOfKind(m, kind))
		case "IngressClass":
			return len(all[*networkingv1.IngressClass](m))
		case "PodDisruptionBudget":
			return len(all[*policyv1.PodDisruptionBudget](m))
		case "ClusterRole":
			return len(all[*rbacv1.ClusterRole](m))
		}
		t.Fatalf("unknown kind %s", kind)
		return 0
	}
	tests := []struct {
		set  string
		kind string
		want int
	}{
		{"serviceMonitor.enabled=false", "ServiceMonitor", 0},
		{"serviceMonitor.enabled=true", "ServiceMonitor", 1},
		{"ingressClass.create=true", "IngressClass", 1},
		{"ingressClass.create=false", "IngressClass", 0},
		{"podDisruptionBudget.enabled=false", "PodDisruptionBudget", 0},
		{"rbac.create=false", "ClusterRole", 0},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			if got := count(render(t, "--set", tt.set), tt.kind); got != tt.want {
				t.Errorf("%d %s rendered, want %d", got, tt.kind, tt.want)
			}
		})
	}
}

func TestDefaultClassAnnotation(t *testing.T) {
	for _, isDefault := range []string{"true", "false"} {
		ic := only[*networkingv1.IngressClass](t, render(t, "--set", "ingressClass.default="+isDefault))
		got, ok := ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass]
		if (isDefault == "true") != ok || (ok && got != "true") {
			t.Errorf("ingressClass.default=%s: annotations %v", isDefault, ic.Annotations)
		}
	}
}

// TestInvalidValuesFail: a mistake fails the install with a message that
// names it, instead of a controller that crash-loops.
func TestInvalidValuesFail(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		message string
	}{
		{"unknown mode", []string{"--set", "mode=Daemonset"}, "/mode"},
		{"unknown key", []string{"--set", "replicas=3"}, "'replicas' not allowed"},
		{"both status sources", []string{"--set", "publishService=a/b", "--set", "publishStatusAddress=192.0.2.1"}, "exclusive"},
		{"publishService without namespace", []string{"--set", "publishService=svc"}, "/publishService"},
		{"defaultTLSSecret without namespace", []string{"--set", "defaultTLSSecret=cert"}, "/defaultTLSSecret"},
		{"service account not named", []string{"--set", "serviceAccount.create=false"}, "serviceAccount.name is required"},
		{"ServiceMonitor without metrics", []string{"--set", "metrics.enabled=false", "--set", "serviceMonitor.enabled=true"}, "needs metrics.enabled"},
		{"port clash", []string{"--set", "mode=DaemonSet", "--set", "hostPorts.health=80"}, "must differ"},
		{"port out of range", []string{"--set", "ports.http=70000"}, "/ports/http"},
		{"grace period as duration", []string{"--set", "drainGracePeriod=30s"}, "/drainGracePeriod"},
		{"unknown Service type", []string{"--set", "service.type=ExternalName"}, "/service/type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := helmTemplate(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("want a failure mentioning %q, got %v", tt.message, err)
			}
		})
	}
}
