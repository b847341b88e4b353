package cluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
	// Pods reach Services through kube-proxy's DNAT on the node.
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
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

// cleanIptables removes the jumps into owned chains from built-in chains,
// then flushes and deletes the owned chains, in every table of iptables
// or ip6tables.
func cleanIptables(iptables string) {
	for _, table := range []string{"filter", "nat", "mangle"} {
		out, err := exec.Command(iptables, "-w", "-t", table, "-S").Output()
		if err != nil {
			continue
		}
		var chains []string
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "-N" && ownedChain(f[1]):
				chains = append(chains, f[1])
			case len(f) >= 4 && f[0] == "-A" && !ownedChain(f[1]) && jumpsToOwned(f):
				_ = run(iptables, append([]string{"-w", "-t", table, "-D"}, f[1:]...)...)
			}
		}
		for _, ch := range chains {
			_ = run(iptables, "-w", "-t", table, "-F", ch)
		}
		for _, ch := range chains {
			_ = run(iptables, "-w", "-t", table, "-X", ch)
		}
	}
}

func jumpsToOwned(rule []string) bool {
	for i := 0; i+1 < len(rule); i++ {
		if (rule[i] == "-j" || rule[i] == "-g") && ownedChain(rule[i+1]) {
			return true
		}
	}
	return false
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

// removeCgroups removes the kubelet's pod cgroups (kubepods*) in every
// cgroup v1 hierarchy, children first; rmdir fails on a busy cgroup, which
// is the right answer if a process still lives there.
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
			_ = syscall.Rmdir(dirs[i])
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
