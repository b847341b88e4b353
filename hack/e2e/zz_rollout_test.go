package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// TestHostNetworkRollout plays a DaemonSet rolling update on one node: the
// old pod is told to stop (SIGTERM) before its successor exists, and the
// successor starts on the very same ports. The old process must keep
// serving until the successor takes the listeners over, each process must
// answer its own readiness on its own probe socket, and no request may fail.
func TestHostNetworkRollout(t *testing.T) {
	ns := namespace(t, "rollout")
	pods := startPods(t, 15, 16)
	create(t, ingressClass("rollout"), service(ns, "web"), endpointSlice(ns, "web", pods...),
		ingress(ns, "web", "rollout", rule{"rollout.test", "/", "web"}))
	dir := t.TempDir()
	handoff := filepath.Join(dir, "handoff.sock")
	flags := []string{"--ingress-class", "rollout", "--controller-name", "baton.dev/rollout",
		"--handoff-socket", handoff, "--handoff-wait", "30s", "--shutdown-grace-period", "10s"}
	old := startRolloutPod(t, framework.BatonOptions{ProbeSocket: filepath.Join(dir, "old.sock"), Args: flags})

	l := startLoad(old.HTTPAddr, "rollout.test", 8)
	if err := old.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // longer than a plain drain's linger
	select {
	case <-old.Exited():
		t.Fatalf("the old process exited on SIGTERM with no successor:\n%s", tail(old.Logs(), 20))
	default:
	}
	if ok, why := old.Ready(); !ok {
		t.Errorf("old process not ready while it is the only one serving: %s", why)
	}

	// As in the chart: an exit after the handoff would restart the
	// container, which would then take the listeners back.
	flags = append(flags, "--stay-after-handoff")
	next := startRolloutPod(t, framework.BatonOptions{ProbeSocket: filepath.Join(dir, "new.sock"), Args: flags,
		HTTPAddr: old.HTTPAddr, HTTPSAddr: old.HTTPSAddr, ProbeAddr: old.ProbeAddr, MetricsAddr: old.MetricsAddr})
	if err := old.Wait(30 * time.Second); err != nil {
		t.Fatalf("the old process did not exit after the handoff: %v\n%s", err, tail(old.Logs(), 30))
	}
	if !tookListeners(next.Logs(), 4) {
		t.Errorf("the successor did not take all four listeners:\n%s", tail(next.Logs(), 20))
	}
	if !strings.Contains(old.Logs(), "a successor took the listeners") {
		t.Errorf("the old process did not wait for its successor:\n%s", tail(old.Logs(), 20))
	}
	time.Sleep(time.Second)
	l.finish(t)
	if ok, why := next.Ready(); !ok {
		t.Errorf("successor not ready on its probe socket: %s", why)
	}
	// kubelet's exec probe, as the chart declares it in hostNetwork mode.
	probe := func(socket string) error {
		return exec.Command(bin("baton"), "probe", "--socket", socket, "--path", "/readyz").Run()
	}
	if err := probe(filepath.Join(dir, "new.sock")); err != nil {
		t.Errorf("baton probe of the successor: %v", err)
	}
	if err := probe(filepath.Join(dir, "old.sock")); err == nil {
		t.Error("baton probe of the exited process succeeded")
	}

	// A third process takes over without any signal to the second, which
	// must then stay, not ready, until it is told to terminate.
	third := startRolloutPod(t, framework.BatonOptions{ProbeSocket: filepath.Join(dir, "third.sock"), Args: flags,
		HTTPAddr: old.HTTPAddr, HTTPSAddr: old.HTTPSAddr, ProbeAddr: old.ProbeAddr, MetricsAddr: old.MetricsAddr})
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(next.Logs(), "waiting for termination") {
			return errors.New("the second process has not finished its drain")
		}
		return nil
	})
	if err := next.Wait(time.Second); err == nil {
		t.Fatal("the second process exited after the handoff despite --stay-after-handoff")
	}
	if ok, why := next.Ready(); ok || !strings.Contains(why, "draining") {
		t.Errorf("handed-over process: ready=%v (%s), want not ready, draining", ok, why)
	}
	if ok, why := third.Ready(); !ok {
		t.Errorf("third process not ready: %s", why)
	}
	if err := next.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := next.Wait(10 * time.Second); err != nil {
		t.Error(err)
	}
}

func startRolloutPod(t *testing.T, o framework.BatonOptions) *framework.Baton {
	t.Helper()
	o.Binary, o.Kubeconfig = bin("baton"), cp.Kubeconfig
	b, err := framework.StartBaton(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() {
			t.Logf("--- baton log (%s) ---\n%s", o.ProbeSocket, tail(b.Logs(), 40))
		}
	})
	return b
}
