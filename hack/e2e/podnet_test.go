package e2e

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// Traffic to a pod that is gone must fail on this machine, never follow
// the default route elsewhere: the suite's guard route makes the pod range
// unreachable wherever no pod lives.
func TestGonePodIsUnreachableHere(t *testing.T) {
	pod := startPods(t, 17)[0]
	pod.Delete()
	_, err := net.DialTimeout("tcp", pod.Addr(), 5*time.Second)
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("dial %s after the pod was deleted: %v, want host unreachable", pod.Addr(), err)
	}
}
