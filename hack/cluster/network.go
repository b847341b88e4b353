package cluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ensureBridge creates baton0 with the node address before anything
// starts: the apiserver binds to it, and the CNI bridge plugin adopts it.
func ensureBridge() error {
	if _, err := net.InterfaceByName(Bridge); err != nil {
		if err := run("ip", "link", "add", Bridge, "type", "bridge"); err != nil {
			return err
		}
	}
	addrs, _ := exec.Command("ip", "-o", "-4", "addr", "show", "dev", Bridge).Output()
	if !strings.Contains(string(addrs), " "+NodeIP+"/24 ") {
		if err := run("ip", "addr", "add", NodeIP+"/24", "dev", Bridge); err != nil {
			return err
		}
	}
	if err := run("ip", "link", "set", Bridge, "up"); err != nil {
		return err
	}
	// Service addresses kube-proxy has not (yet) translated must die on the
	// bridge, not leave the machine by the default route.
	if err := run("ip", "route", "replace", ServiceCIDR, "dev", Bridge); err != nil {
		return err
	}
	return nil
}

const (
	ipForward    = "/proc/sys/net/ipv4/ip_forward"
	isolation    = "CNI-BATON-ISOLATION"
	savedForward = runDir + "/ip_forward.orig"
)

// ensureForwarding turns on IPv4 forwarding, which a Service hop between
// two pods on the bridge needs (the CNI bridge plugin would turn it on
// anyway), remembering the machine's value for Stop; and it drops whatever
// pods would forward off the bridge, so nothing leaves for other networks.
func ensureForwarding() error {
	if !exists(savedForward) {
		old, err := os.ReadFile(ipForward)
		if err != nil {
			return err
		}
		if err := os.WriteFile(savedForward, old, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(ipForward, []byte("1"), 0o644); err != nil {
		return err
	}
	_ = run("iptables", "-w", "-N", isolation) // fails when it exists
	if err := run("iptables", "-w", "-F", isolation); err != nil {
		return err
	}
	if err := run("iptables", "-w", "-A", isolation, "-i", Bridge, "!", "-o", Bridge, "-j", "DROP"); err != nil {
		return err
	}
	if run("iptables", "-w", "-C", "FORWARD", "-j", isolation) == nil {
		return nil
	}
	return run("iptables", "-w", "-I", "FORWARD", "1", "-j", isolation)
}

// restoreForwarding puts back the machine's ip_forward value; the
// isolation chain goes with the other owned chains.
func restoreForwarding() {
	if old, err := os.ReadFile(savedForward); err == nil {
		_ = os.WriteFile(ipForward, old, 0o644)
	}
}

func deleteBridge() {
	if _, err := net.InterfaceByName(Bridge); err == nil {
		_ = run("ip", "link", "delete", Bridge)
	}
}

// ownedChain: chains made by kube-proxy, the kubelet and the CNI bridge and
// portmap plugins. Nothing else on this machine uses these prefixes.
func ownedChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-")
}

// cleanIptables removes the jumps into owned chains from the built-in
// chains, then flushes and deletes the owned chains, in every table of
// iptables or ip6tables. Jumps are deleted by rule number: the -S form
// quotes comments, which would not survive being split back into args.
func cleanIptables(iptables string) {
	for _, table := range []string{"filter", "nat", "mangle"} {
		out, err := exec.Command(iptables, "-w", "-t", table, "-S").Output()
		if err != nil {
			continue
		}
		var owned, builtin []string
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "-N" && ownedChain(f[1]):
				owned = append(owned, f[1])
			case len(f) >= 2 && f[0] == "-P":
				builtin = append(builtin, f[1])
			}
		}
		for _, ch := range builtin {
			deleteJumps(iptables, table, ch)
		}
		for _, ch := range owned {
			_ = run(iptables, "-w", "-t", table, "-F", ch)
		}
		for _, ch := range owned {
			_ = run(iptables, "-w", "-t", table, "-X", ch)
		}
	}
}

// deleteJumps deletes, last first, the rules of chain whose target is an
// owned chain.
func deleteJumps(iptables, table, chain string) {
	out, err := exec.Command(iptables, "-w", "-t", table, "-n", "--line-numbers", "-L", chain).Output()
	if err != nil {
		return
	}
	lines := strings.Split(string(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if num, ok := jumpToOwned(lines[i]); ok {
			_ = run(iptables, "-w", "-t", table, "-D", chain, num)
		}
	}
}

// jumpToOwned parses a `-L --line-numbers` line ("3 KUBE-SERVICES all --
// ...") and returns its rule number if the target is an owned chain.
func jumpToOwned(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) < 2 || !ownedChain(f[1]) {
		return "", false
	}
	if _, err := strconv.Atoi(f[0]); err != nil {
		return "", false
	}
	return f[0], true
}

// unmountUnder unmounts every mount point below dir, deepest first (the
// overlay rootfs, shm, netns and kubelet volume mounts).
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// removeCgroups kills what still runs in the kubelet's pod cgroups
// (kubepods*, pod processes whose shim is gone) and removes the cgroups in
// every cgroup v1 hierarchy, children first.
func removeCgroups() {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			killCgroup(dirs[i])
			_ = syscall.Rmdir(dirs[i])
		}
	}
}

func killCgroup(dir string) {
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(procs)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = killAndWait(pid, 0)
		}
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
