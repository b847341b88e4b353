package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// TestChartRBACIsEnough installs the Helm chart into the real API server
// and runs the Baton binary out of cluster as the chart's ServiceAccount
// (by impersonation): it must become ready, route, and write the Ingress
// status with nothing but the permissions the chart grants.
func TestChartRBACIsEnough(t *testing.T) {
	const release, ns = "baton", "baton-system"
	helm := exec.Command(bin("helm"), "install", release, filepath.Join(root, "charts", "baton"),
		"--kubeconfig", cp.Kubeconfig, "--namespace", ns, "--create-namespace",
		"--set", "ingressClass.name=chart", "--wait=false")
	if out, err := helm.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command(bin("helm"), "uninstall", release, "--kubeconfig", cp.Kubeconfig, "--namespace", ns).Run()
	})
	sa := "system:serviceaccount:" + ns + ":" + release
	kubeconfig, err := cp.ImpersonatingKubeconfig(sa, "system:serviceaccounts", "system:serviceaccounts:"+ns, "system:authenticated")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(kubeconfig) })
	requireRBACEnforced(t, ns)

	app := namespace(t, "chart-app")
	pods := startPods(t, 12)
	create(t, service(app, "web"), endpointSlice(app, "web", pods...),
		ingress(app, "web", "chart", rule{"chart.test", "/", "web"}))
	b, err := framework.StartBaton(framework.BatonOptions{Binary: bin("baton"), Kubeconfig: kubeconfig,
		Args: []string{"--ingress-class", "chart", "--controller-name", "baton.dev/ingress-controller",
			"--publish-status-address", "192.0.2.10", "--leader-elect", "--leader-election-namespace", ns}})
	if err != nil {
		t.Fatalf("baton as the chart's ServiceAccount: %v", err)
	}
	t.Cleanup(b.Kill)
	expectPod(t, b.HTTPAddr, "chart.test", "/", "pod-12")
	eventually(t, 30*time.Second, func() error { return loadBalancerIP(app, "web", "192.0.2.10") })
}

// requireRBACEnforced makes sure the API server really authorizes
// impersonated users, so the test above cannot pass by accident: a
// ServiceAccount the chart did not bind must be refused.
func requireRBACEnforced(t *testing.T, ns string) {
	t.Helper()
	nobody, err := cp.ImpersonatingKubeconfig("system:serviceaccount:"+ns+":nobody", "system:serviceaccounts", "system:authenticated")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(nobody)
	out, err := exec.Command(bin("kubectl"), "--kubeconfig", nobody, "get", "ingresses", "-A").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Forbidden") {
		t.Fatalf("an unbound ServiceAccount could list ingresses (RBAC not enforced?): %v %s", err, out)
	}
}
