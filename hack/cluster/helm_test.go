//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// The release under test and the application it routes to.
const (
	release    = "baton"
	releaseNS  = "baton-system"
	appNS      = "app"
	batonImage = "ghcr.io/baton-dev/baton"
	batonTag   = "0.1.0"
	// upgradeTag names the same image again, so that `helm upgrade` rolls
	// the pods out without a second build.
	upgradeTag    = "0.1.0-b"
	batonSelector = "app.kubernetes.io/name=baton,app.kubernetes.io/instance=baton"
	// loadInterval paces each load generator (one request at a time).
	loadInterval = 5 * time.Millisecond
	// maxDrainFailures bounds the requests that may fail when a backend
	// pod is deleted: only a request already written to the dying process
	// on a pooled connection can fail (a refused connect is retried on
	// another endpoint), and the echo backend exits at SIGTERM at once.
	maxDrainFailures = 2
)

// TestHelm is `make test-cluster`: the chart on a real node, with the image
// `make image` built. Baton becomes Ready through the chart's probes, an
// Ingress and an Upstream route to real echo pods, the Ingress status
// shows the published address, a deleted backend pod leaves the pool
// under load, `helm upgrade` rolls out under load without a failed
// request, and `helm uninstall` removes what the chart made but the CRDs.
func TestHelm(t *testing.T) {
	h := startNode(t)
	h.install()
	h.kubectlApply(upstreamManifests) // the Upstream CRD comes with the chart
	clusterIP := h.assertRoutes()
	h.deleteBackendUnderLoad()
	h.upgradeUnderLoad(net.JoinHostPort(clusterIP, "80"))
	h.uninstall()
}

type helmEnv struct {
	t    *testing.T
	c    *Cluster
	cs   kubernetes.Interface
	root string
}

// install runs `helm install --wait`. The Service is a NodePort: with the
// chart's default LoadBalancer, --wait waits for a load-balancer address
// that no controller on this node ever assigns.
func (h *helmEnv) install() {
	start := time.Now()
	h.helm("install", release, filepath.Join(h.root, "charts", "baton"), "--namespace", releaseNS,
		"--create-namespace", "--wait", "--timeout", "3m",
		"--set", "image.pullPolicy=Never", "--set", "service.type=NodePort")
	h.t.Logf("helm install --wait: %s", time.Since(start).Round(time.Millisecond))
}

// assertRoutes checks that the Ingress and the Upstream route through each
// Baton pod and through the chart's Service, and that the Ingress status
// shows the Service's cluster IP (--publish-service; a NodePort without
// external IPs publishes its cluster IP, as ingress-nginx does).
func (h *helmEnv) assertRoutes() string {
	ctx := context.Background()
	svc, err := h.cs.CoreV1().Services(releaseNS).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	addrs := []string{net.JoinHostPort(svc.Spec.ClusterIP, "80")}
	for _, ip := range h.batonPodIPs() {
		addrs = append(addrs, net.JoinHostPort(ip, "8080"))
	}
	for _, addr := range addrs {
		for _, host := range []string{"echo.test", "upstream.test"} {
			h.expectEcho(addr, host)
		}
	}
	h.expectIngressStatus("echo", svc.Spec.ClusterIP)
	h.expectIngressStatus("upstream", svc.Spec.ClusterIP)
	return svc.Spec.ClusterIP
}

// deleteBackendUnderLoad deletes one echo pod while every Baton pod gets
// paced requests, and waits until the replacement serves: the deleted
// endpoint must leave the pool (its pod turns not ready and terminating in
// the EndpointSlice) with at most maxDrainFailures failed requests.
func (h *helmEnv) deleteBackendUnderLoad() {
	ctx := context.Background()
	victim := h.echoPods()[0]
	var loads []*framework.PacedLoad
	for _, ip := range h.batonPodIPs() {
		loads = append(loads, framework.StartPacedLoad(net.JoinHostPort(ip, "8080"), "echo.test", loadInterval, 1<<30))
	}
	time.Sleep(time.Second) // traffic to every endpoint before the deletion
	start := time.Now()
	if err := h.cs.CoreV1().Pods(appNS).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.waitEchoReady(3, victim)
	h.t.Logf("echo pod %s deleted, 3 others ready after %s", victim, time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // the replacement's endpoint reaches Baton
	sent, failed := 0, 0
	for i, l := range loads {
		n, byPod, failures := l.Stop()
		sent += n
		failed += len(failures)
		h.t.Logf("load via baton pod %d: %d sent, by pod %v, %d failed %v", i, n, byPod, len(failures), failures)
	}
	h.t.Logf("backend deletion: %d requests, %d failed (bound %d)", sent, failed, maxDrainFailures)
	if failed > maxDrainFailures {
		h.t.Errorf("%d requests failed when a backend pod was deleted, want <= %d", failed, maxDrainFailures)
	}
	h.expectNoTrafficTo(victim)
}

// expectNoTrafficTo sends a burst through every Baton pod and wants
// answers from every ready echo pod (the replacement's endpoint joined)
// and none from pod (its endpoint left).
func (h *helmEnv) expectNoTrafficTo(pod string) {
	want := h.echoPods()
	for _, ip := range h.batonPodIPs() {
		seen := map[string]bool{}
		for range 30 {
			status, from, err := framework.RawGet(net.JoinHostPort(ip, "8080"), "echo.test", "/", 2*time.Second)
			if err != nil || status != http.StatusOK || from == pod {
				h.t.Fatalf("after deletion: status %d from %q, %v", status, from, err)
			}
			seen[from] = true
		}
		for _, p := range want {
			if !seen[p] {
				h.t.Errorf("via %s: no answer from ready echo pod %s in 30 requests (saw %v)", ip, p, seen)
			}
		}
	}
}

// upgradeUnderLoad rolls Baton out to another image tag while clients
// send to addr and wants no request to fail. Deployment mode, through the
// chart's Service (kube-proxy): the preStop sleep keeps a terminating pod
// serving until its endpoint is gone, and Baton drains what it has.
// DaemonSet mode, to the node's port: the new pod takes the listening
// sockets over from the old one.
func (h *helmEnv) upgradeUnderLoad(addr string) {
	loads := []*framework.PacedLoad{
		framework.StartPacedLoad(addr, "echo.test", loadInterval, 1<<30),
		framework.StartPacedLoad(addr, "upstream.test", loadInterval, 1<<30),
	}
	ka := startKeepAliveLoad(addr, "echo.test")
	before := h.batonPodNames()
	start := time.Now()
	h.helm("upgrade", release, filepath.Join(h.root, "charts", "baton"), "--namespace", releaseNS,
		"--reuse-values", "--set", "image.tag="+upgradeTag, "--wait", "--timeout", "3m")
	h.t.Logf("helm upgrade --wait: %s", time.Since(start).Round(time.Millisecond))
	h.waitPodsGone(before)
	h.t.Logf("old baton pods gone after %s", time.Since(start).Round(time.Millisecond))
	sent, failed := 0, 0
	for i, l := range loads {
		n, _, failures := l.Stop()
		sent += n
		failed += len(failures)
		h.t.Logf("upgrade load %d (new connection per request): %d sent, %d failed %v", i, n, len(failures), failures)
	}
	n, failures := ka.stop()
	sent += n
	failed += len(failures)
	h.t.Logf("upgrade load (kept-alive connections): %d sent, %d failed %v", n, len(failures), failures)
	h.t.Logf("helm upgrade: %d requests, %d failed", sent, failed)
	if failed > 0 {
		h.t.Errorf("%d requests failed during helm upgrade, want 0", failed)
	}
	h.expectImage(batonImage + ":" + upgradeTag)
}

// uninstall wants every object of the release's manifest gone, and the
// CRDs kept (Helm never deletes what it installed from crds/).
func (h *helmEnv) uninstall() {
	objects := manifestObjects(h.helm("get", "manifest", release, "--namespace", releaseNS))
	if len(objects) < 5 {
		h.t.Fatalf("release manifest lists only %v", objects)
	}
	h.t.Logf("the release made %d objects", len(objects))
	start := time.Now()
	h.helm("uninstall", release, "--namespace", releaseNS, "--wait", "--timeout", "2m")
	h.t.Logf("helm uninstall --wait: %s", time.Since(start).Round(time.Millisecond))
	for _, o := range objects {
		args := []string{"get", o.kind, o.name, "--ignore-not-found", "-o", "name"}
		if o.namespaced {
			args = append(args, "--namespace", releaseNS)
		}
		if out := strings.TrimSpace(h.kubectl(nil, args...)); out != "" {
			h.t.Errorf("%s %s left after helm uninstall", o.kind, o.name)
		}
	}
	h.waitPodsGone(nil)
	if out := h.kubectl(nil, "get", "crd", "upstreams.baton.dev", "-o", "name"); !strings.Contains(out, "upstreams.baton.dev") {
		h.t.Errorf("CRD upstreams.baton.dev removed by helm uninstall")
	}
}

// stopKeepingLogs stops the cluster, first copying its logs to /tmp when
// the test failed.
func stopKeepingLogs(t *testing.T, c *Cluster) {
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("baton-cluster-logs-%d", time.Now().Unix()))
		if err := exec.Command("cp", "-r", c.state("logs"), keep).Run(); err == nil {
			t.Logf("cluster logs kept in %s", keep)
		}
	}
	start := time.Now()
	if err := c.Stop(context.Background()); err != nil {
		t.Errorf("stop: %v", err)
	}
	t.Logf("cluster down after %s", time.Since(start).Round(time.Millisecond))
}

func (h *helmEnv) helm(args ...string) string {
	h.t.Helper()
	cmd := exec.Command(h.c.bin("helm"), append(args, "--kubeconfig", h.c.Kubeconfig())...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (h *helmEnv) kubectl(stdin []byte, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(h.c.bin("kubectl"), append(args, "--kubeconfig", h.c.Kubeconfig())...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func (h *helmEnv) kubectlApply(manifests string) {
	h.t.Helper()
	h.kubectl([]byte(manifests), "apply", "-f", "-")
}

// Node ports of the DaemonSet-mode release: high ones, so the test binds
// nothing an installation on this machine might use.
const dsHTTPPort = "18480"

// TestHelmDaemonSet is the chart in DaemonSet mode on the host network:
// `helm upgrade` starts the new pod next to the old one, which hands its
// listening sockets over, so clients of the node's port see no refused
// connection and no failed request.
func TestHelmDaemonSet(t *testing.T) {
	h := startNode(t)
	root := h.root
	handoff := prepareHandoffDir(t)
	start := time.Now()
	h.helm("install", release, filepath.Join(root, "charts", "baton"), "--namespace", releaseNS,
		"--create-namespace", "--wait", "--timeout", "3m",
		"--set", "mode=DaemonSet", "--set", "image.pullPolicy=Never", "--set", "service.type=NodePort",
		"--set", "handoff.hostPath="+handoff, "--set", "handoff.initContainer.enabled=false",
		"--set", "hostPorts.http="+dsHTTPPort, "--set", "hostPorts.https=18443",
		"--set", "hostPorts.metrics=18254", "--set", "hostPorts.health=18262")
	t.Logf("helm install --wait (DaemonSet): %s", time.Since(start).Round(time.Millisecond))
	if time.Since(start) > 20*time.Second {
		t.Logf("slow install; events:\n%s", h.kubectl(nil, "get", "events", "--namespace", releaseNS, "--sort-by", ".lastTimestamp"))
	}
	h.kubectlApply(upstreamManifests)
	addr := net.JoinHostPort(NodeIP, dsHTTPPort)
	h.expectEcho(addr, "echo.test")
	h.expectEcho(addr, "upstream.test")
	before := h.batonPodNames()
	if len(before) != 1 {
		t.Fatalf("DaemonSet pods %v, want 1 on the one node", before)
	}
	old := h.followLogs(before)
	h.upgradeUnderLoad(addr)
	for pod, log := range old() {
		const handedOver = "a successor took the listeners"
		if i := strings.Index(log, handedOver); i < 0 {
			t.Errorf("old pod %s did not hand its listeners over; its log:\n%s", pod, log)
		} else {
			t.Logf("old pod %s: %s", pod, strings.SplitN(log[i:], "\n", 2)[0])
		}
	}
}

// followLogs streams the named Baton pods' logs until they end and returns
// a function that waits for that and returns them by pod.
func (h *helmEnv) followLogs(pods []string) func() map[string]string {
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, pod := range pods {
		cmd := exec.Command(h.c.bin("kubectl"), "logs", "-f", "--namespace", releaseNS, pod, "--kubeconfig", h.c.Kubeconfig())
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			h.t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	return func() map[string]string {
		logs := map[string]string{}
		for i, cmd := range cmds {
			_ = cmd.Wait() // the stream ends with the container
			logs[pods[i]] = outs[i].String()
		}
		return logs
	}
}

// prepareHandoffDir makes the node directory the old and the new pod share,
// owned by the controller's user as the chart's init container would (its
// busybox image is not on this registry-less node), under the cluster's
// run directory so that Stop removes it.
func prepareHandoffDir(t *testing.T) string {
	base := filepath.Join(runDir, "handoff")
	dir := filepath.Join(base, releaseNS+"_"+release)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	return base
}

// startNode brings the node up (down again when the test ends), imports
// the image `make image` built under its tag and the upgrade tag, and
// applies the echo backends.
func startNode(t *testing.T) *helmEnv {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Root: root, Logf: t.Logf}
	start := time.Now()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopKeepingLogs(t, c) })
	t.Logf("cluster Ready after %s", time.Since(start).Round(time.Millisecond))
	if err := c.ImportImage(filepath.Join(root, "bin", "baton-image.tar")); err != nil {
		t.Fatalf("import bin/baton-image.tar (run `make image` first): %v", err)
	}
	if err := c.ctr("images", "tag", "--force", batonImage+":"+batonTag, batonImage+":"+upgradeTag); err != nil {
		t.Fatal(err)
	}
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	h := &helmEnv{t: t, c: c, cs: cs, root: root}
	h.kubectlApply(appManifests)
	return h
}
