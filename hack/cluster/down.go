package cluster

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Stop tears the node down and removes everything Start created: pods
// (through the kubelet, so CNI releases addresses and hostPort rules),
// processes, mounts, cgroups, the bridge, owned iptables chains and all
// state, including the kubeconfig. It is safe on a half-started or already
// stopped cluster.
func (c *Cluster) Stop(ctx context.Context) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	d := c.daemons()
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		_ = c.stop(d[name], 10*time.Second)
	}
	c.drainPods(ctx)
	for _, name := range []string{"kubelet", "kube-proxy"} {
		_ = c.stop(d[name], 10*time.Second)
	}
	c.killTasks()
	_ = c.stop(d["containerd"], 10*time.Second)
	for _, name := range []string{"kube-apiserver", "etcd"} {
		_ = c.stop(d[name], 10*time.Second)
	}
	// Whatever still names the cluster's directories (a lost pid file, a
	// shim of an earlier containerd) is the cluster's too.
	for _, marker := range []string{runDir, libDir, c.state("")} {
		for _, pid := range processesUsing(marker) {
			_ = killAndWait(pid, 5*time.Second)
		}
	}
	restoreForwarding()
	for _, dir := range []string{runDir, libDir} {
		unmountUnder(dir)
		_ = os.RemoveAll(dir)
	}
	removeCgroups()
	removeCNICache()
	removeHardcodedPaths()
	for _, ipt := range []string{"iptables", "ip6tables"} {
		cleanIptables(ipt)
	}
	deleteBridge()
	return os.RemoveAll(filepath.Join(c.Root, "bin", "cluster"))
}

// drainPods deletes every pod while the kubelet still runs, so it stops
// the sandboxes through CNI, then waits until containerd runs no task.
func (c *Cluster) drainPods(ctx context.Context) {
	if _, ok := c.daemons()["kubelet"].running(); !ok {
		return
	}
	cs, err := c.Client()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	zero := int64(0)
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, ns := range nss.Items {
		_ = cs.CoreV1().Pods(ns.Name).DeleteCollection(ctx,
			metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
	c.logf("waiting for the kubelet to stop all pods")
	_ = poll(ctx, 80*time.Second, func() error {
		if len(c.tasks()) > 0 {
			return errTasksLeft
		}
		return nil
	})
}

var errTasksLeft = errors.New("containerd tasks still running")

func (c *Cluster) tasks() []string {
	out, err := exec.Command(c.bin("ctr"), "--address", containerdSocket(), "-n", "k8s.io",
		"tasks", "ls", "-q").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// killTasks is the fallback when the kubelet could not stop the pods.
func (c *Cluster) killTasks() {
	for _, id := range c.tasks() {
		_ = c.ctr("tasks", "kill", "-s", "SIGKILL", id)
	}
}

// removeCNICache removes libcni's cached results for this network; the
// library keeps them under /var/lib/cni whatever containerd is told.
func removeCNICache() {
	for _, pattern := range []string{"/var/lib/cni/results/baton-cluster-*", "/var/lib/cni/cache/results/baton-cluster-*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
	for _, dir := range []string{"/var/lib/cni/cache/results", "/var/lib/cni/cache", "/var/lib/cni/results", "/var/lib/cni"} {
		_ = os.Remove(dir) // only if empty
	}
}

// removeHardcodedPaths removes what the kubelet and the containerd shims
// create at fixed paths whatever their configured roots: the device-plugin
// socket and the shim socket directory. Directories go only when empty, in
// case something else on the machine uses them.
func removeHardcodedPaths() {
	_ = os.Remove("/var/lib/kubelet/device-plugins/kubelet.sock")
	for _, dir := range []string{"/var/lib/kubelet/device-plugins", "/var/lib/kubelet",
		"/run/containerd/s", "/run/containerd"} {
		_ = os.Remove(dir)
	}
}
