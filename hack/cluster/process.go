package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is one long-running cluster process. It outlives `make cluster`
// (own session, output to bin/cluster/logs) and is found again through its
// pid file under runDir, checked against the binary so a recycled pid is
// never signalled.
type daemon struct {
	name   string
	binary string
	args   []string
}

func pidFile(name string) string { return filepath.Join(runDir, name+".pid") }

// running returns the pid of d if its pid file names a live process of
// d's binary.
func (d daemon) running() (int, bool) {
	raw, err := os.ReadFile(pidFile(d.name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, false
	}
	// bin/ may hold symlinks (worktrees share the main checkout's tools).
	want, err := filepath.EvalSymlinks(d.binary)
	return pid, err == nil && strings.TrimSuffix(exe, " (deleted)") == want
}

func (c *Cluster) start(d daemon) error {
	if _, ok := d.running(); ok {
		return nil
	}
	if err := os.MkdirAll(c.state("logs"), 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(c.state("logs/"+d.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(d.binary, d.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin:"+filepath.Join(c.Root, "bin"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.name, err)
	}
	c.logf("started %s (pid %d), log %s", d.name, cmd.Process.Pid, logFile.Name())
	if err := os.WriteFile(pidFile(d.name), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (c *Cluster) stop(d daemon, grace time.Duration) error {
	defer os.Remove(pidFile(d.name))
	pid, ok := d.running()
	if !ok {
		return nil
	}
	c.logf("stopping %s (pid %d)", d.name, pid)
	return killAndWait(pid, grace)
}

func killAndWait(pid int, grace time.Duration) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(10 * time.Second)
			grace = -1
		}
		if grace < 0 && time.Now().After(deadline) {
			return fmt.Errorf("pid %d survived SIGKILL", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// processesUsing lists pids whose command line contains marker: how the
// containerd shims (started by containerd, not by us directly) are found,
// by the cluster-private socket path they were given.
func processesUsing(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// lock serialises Start and Stop between processes (two
// `make cluster` at once would race on the same pid files). The lock file
// lives in bin/, outside the state Stop removes.
func (c *Cluster) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(c.Root, "bin", ".cluster.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
