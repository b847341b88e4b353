package framework

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

const (
	podNetLock = "/run/baton-e2e.lock"
	// podCIDR holds every address StartPod makes (10.244.N.0/24).
	podCIDR = "10.244.0.0/16"
)

// ClaimPodNetwork makes this process the only user of the pod networks on
// the machine until release is called, then clears what a dead run left.
// Two runs at once would share addresses and interface names, and one's
// cleanup would delete the other's pods mid-test. While claimed, addresses
// in podCIDR without a live pod are unreachable, so a request to a pod that
// is gone fails here instead of following the default route off the machine.
func ClaimPodNetwork() (release func(), err error) {
	f, err := os.OpenFile(podNetLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "another e2e run or make run holds %s; waiting for it\n", podNetLock)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
	}
	CleanupStalePods()
	if out, err := exec.Command("ip", "route", "replace", "unreachable", podCIDR).CombinedOutput(); err != nil {
		f.Close()
		return nil, fmt.Errorf("guard route for %s: %v: %s", podCIDR, err, out)
	}
	return func() {
		_ = exec.Command("ip", "route", "delete", "unreachable", podCIDR).Run()
		f.Close() // releases the lock
	}, nil
}
