//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// TestSmoke is `make test-cluster-smoke`: the node comes up Ready, a second
// Start changes nothing, a pod from a locally built image answers on its
// pod IP and through a ClusterIP Service, and Stop leaves nothing behind.
func TestSmoke(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Root: root, Logf: t.Logf}
	ctx := context.Background()
	hostBefore := existing(hostPaths)
	forwardBefore, _ := os.ReadFile(ipForward)
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster Ready after %s", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("baton-cluster-logs-%d", time.Now().Unix()))
		if err := exec.Command("cp", "-r", c.state("logs"), keep).Run(); err == nil {
			t.Logf("cluster logs kept in %s", keep)
		}
		_ = c.Stop(context.Background())
	})
	assertRestartIsNoop(t, c)
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	podIP := runEchoPod(t, cs)
	assertEcho(t, "http://"+net.JoinHostPort(podIP, "8080")+"/anything", "echo")
	clusterIP := exposeEcho(t, cs)
	assertEcho(t, "http://"+net.JoinHostPort(clusterIP, "80")+"/anything", "echo")
	assertAPIThroughService(t, c)

	start = time.Now()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	t.Logf("cluster down after %s", time.Since(start).Round(time.Millisecond))
	assertNothingLeft(t, c)
	if after, _ := os.ReadFile(ipForward); string(after) != string(forwardBefore) {
		t.Errorf("ip_forward %q, was %q", after, forwardBefore)
	}
	for _, p := range hostPaths {
		if exists(p) && !hostBefore[p] {
			t.Errorf("%s created and left behind", p)
		}
	}
}

// hostPaths are the fixed paths containerd, the shims, the kubelet and
// libcni use by default; the cluster must not leave any of them behind.
var hostPaths = []string{"/var/lib/kubelet", "/var/lib/containerd", "/run/containerd", "/opt/containerd",
	"/var/lib/cni", "/etc/cni", "/var/log/pods", "/var/run/nri", "/etc/cdi", "/var/run/cdi", "/var/run/kubernetes"}

func existing(paths []string) map[string]bool {
	m := map[string]bool{}
	for _, p := range paths {
		m[p] = exists(p)
	}
	return m
}

// assertAPIThroughService reaches the apiserver at the kubernetes
// Service's ClusterIP, as a pod with in-cluster config (Baton) does.
func assertAPIThroughService(t *testing.T, c *Cluster) {
	client, err := c.adminHTTP()
	if err != nil {
		t.Fatal(err)
	}
	err = poll(context.Background(), time.Minute, func() error {
		resp, err := client.Get("https://10.96.0.1/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("https://10.96.0.1/readyz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func assertRestartIsNoop(t *testing.T, c *Cluster) {
	before := pids(c)
	start := time.Now()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("second Start took %s", time.Since(start).Round(time.Millisecond))
	if after := pids(c); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("second Start replaced processes: %v -> %v", before, after)
	}
}

func pids(c *Cluster) map[string]int {
	m := map[string]int{}
	for name, d := range c.daemons() {
		pid, _ := d.running()
		m[name] = pid
	}
	return m
}

func runEchoPod(t *testing.T, cs kubernetes.Interface) string {
	ctx := context.Background()
	// The default ServiceAccount appears shortly after the namespace exists.
	if err := poll(ctx, time.Minute, func() error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Labels: map[string]string{"app": "echo"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "echo", Image: EchoImage, ImagePullPolicy: corev1.PullNever,
			Args: []string{"-name", "echo"},
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	err := poll(ctx, 2*time.Minute, func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("pod echo %s, status %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		ip = p.Status.PodIP
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod echo running at %s", ip)
	return ip
}

func exposeEcho(t *testing.T, cs kubernetes.Interface) string {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	created, err := cs.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created.Spec.ClusterIP
}

// assertEcho retries until kube-proxy or the pod is ready, then wants the
// backend's JSON naming pod.
func assertEcho(t *testing.T, url, pod string) {
	// A fresh connection per try: one opened before kube-proxy's rules
	// would keep its untranslated path.
	client := &http.Client{Timeout: 2 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	err := poll(context.Background(), time.Minute, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var reply struct{ Pod string }
		if err := json.Unmarshal(body, &reply); err != nil || reply.Pod != pod {
			return fmt.Errorf("GET %s: %s %q", url, resp.Status, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func assertNothingLeft(t *testing.T, c *Cluster) {
	for _, marker := range []string{runDir, libDir, filepath.Join(c.Root, "bin", "cluster")} {
		if p := processesUsing(marker); len(p) > 0 {
			t.Errorf("processes still mention %s: %v", marker, p)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("%s still exists", marker)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, dir := range []string{runDir, libDir} {
		if strings.Contains(string(mounts), dir) {
			t.Errorf("mounts left under %s", dir)
		}
	}
	if _, err := net.InterfaceByName(Bridge); err == nil {
		t.Errorf("bridge %s still exists", Bridge)
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, _ := exec.Command(ipt, "-w", "-t", table, "-S").Output()
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) > 1 && f[0] == "-N" && ownedChain(f[1]) {
					t.Errorf("%s -t %s: chain %s left", ipt, table, f[1])
				}
			}
		}
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*"); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}
