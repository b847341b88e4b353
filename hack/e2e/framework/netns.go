package framework

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// nsPrefix marks every namespace and interface this package creates.
const nsPrefix = "baton-e2e-"

// Pod is a backend process in its own network namespace.
type Pod struct {
	Name  string
	Index int    // the N of 10.244.N.0/24
	IP    string // the pod's address
	Port  int
	netns string
	veth  string
	cmd   *exec.Cmd
	log   *syncBuffer
}

// CleanupStalePods removes namespaces and interfaces left by a run that
// died. Call it only with the pod network claimed (ClaimPodNetwork).
func CleanupStalePods() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(name, nsPrefix) {
			_ = exec.Command("ip", "netns", "delete", name).Run()
		}
	}
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "bte") {
			_ = exec.Command("ip", "link", "delete", l.Name).Run()
		}
	}
}

// StartPod creates namespace number index (1-250) and runs the backend
// binary in it, listening on port.
func StartPod(index int, name, backendBin string, port int) (*Pod, error) {
	if index < 1 || index > 250 {
		return nil, fmt.Errorf("pod index %d out of 1..250", index)
	}
	p := &Pod{Name: name, Index: index, IP: fmt.Sprintf("10.244.%d.2", index), Port: port,
		netns: fmt.Sprintf("%s%d", nsPrefix, index), veth: fmt.Sprintf("bte%d", index)}
	if err := p.network(); err != nil {
		p.Delete()
		return nil, err
	}
	if err := p.Start(backendBin); err != nil {
		p.Delete()
		return nil, err
	}
	return p, nil
}

func (p *Pod) network() error {
	peer := p.veth + "p"
	host := fmt.Sprintf("10.244.%d.1", p.Index)
	steps := [][]string{
		{"netns", "add", p.netns},
		{"link", "add", p.veth, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", p.netns},
		{"addr", "add", host + "/24", "dev", p.veth},
		{"link", "set", p.veth, "up"},
		{"-n", p.netns, "addr", "add", p.IP + "/24", "dev", peer},
		{"-n", p.netns, "link", "set", peer, "up"},
		{"-n", p.netns, "link", "set", "lo", "up"},
		{"-n", p.netns, "route", "add", "default", "via", host},
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Addr is "ip:port" of the backend.
func (p *Pod) Addr() string { return fmt.Sprintf("%s:%d", p.IP, p.Port) }

// Start (re)starts the backend process and waits until it accepts.
func (p *Pod) Start(backendBin string) error {
	p.log = &syncBuffer{}
	p.cmd = exec.Command("ip", "netns", "exec", p.netns, backendBin,
		"-listen", fmt.Sprintf(":%d", p.Port), "-name", p.Name)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start backend %s: %w", p.Name, err)
	}
	return waitTCP(p.Addr(), 10*time.Second)
}

// Kill stops the backend process abruptly, as a crashing pod would.
func (p *Pod) Kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// Delete kills the backend and removes the namespace and its interfaces.
func (p *Pod) Delete() {
	p.Kill()
	_ = exec.Command("ip", "link", "delete", p.veth).Run()
	_ = exec.Command("ip", "netns", "delete", p.netns).Run()
}

// Logs returns what the backend printed.
func (p *Pod) Logs() string {
	if p.log == nil {
		return ""
	}
	return p.log.String()
}

func waitTCP(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept within %v: %w", addr, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RequireRoot tells a caller why pods cannot be made.
func RequireRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("network-namespace pods need root (euid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("network-namespace pods need iproute2's ip: %w", err)
	}
	return nil
}
