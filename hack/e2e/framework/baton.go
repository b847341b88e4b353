package framework

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"time"
)

// Baton is the controller binary running out of cluster.
type Baton struct {
	HTTPAddr  string
	HTTPSAddr string
	ProbeAddr string
	cmd       *exec.Cmd
	log       *syncBuffer
	exited    chan struct{}
}

// BatonOptions choose the binary and its extra flags.
type BatonOptions struct {
	Binary     string
	Kubeconfig string
	Args       []string
	// HTTPAddr and HTTPSAddr default to free loopback ports; a successor in
	// a handoff test passes its predecessor's.
	HTTPAddr, HTTPSAddr string
}

// StartBaton runs Baton and waits until /readyz says it serves.
func StartBaton(o BatonOptions) (*Baton, error) {
	b := &Baton{HTTPAddr: o.HTTPAddr, HTTPSAddr: o.HTTPSAddr, log: &syncBuffer{}, exited: make(chan struct{})}
	if b.HTTPAddr == "" {
		b.HTTPAddr = FreeAddr()
	}
	if b.HTTPSAddr == "" {
		b.HTTPSAddr = FreeAddr()
	}
	b.ProbeAddr = FreeAddr()
	args := append([]string{"--kubeconfig", o.Kubeconfig,
		"--http-bind-address", b.HTTPAddr, "--https-bind-address", b.HTTPSAddr,
		"--health-probe-bind-address", b.ProbeAddr, "--metrics-bind-address", FreeAddr()}, o.Args...)
	b.cmd = exec.Command(o.Binary, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = b.cmd.Wait(); close(b.exited) }()
	if err := b.waitReady(60 * time.Second); err != nil {
		b.Kill()
		return nil, fmt.Errorf("%w\n--- baton log ---\n%s", err, b.Logs())
	}
	return b, nil
}

func (b *Baton) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-b.exited:
			return fmt.Errorf("baton exited before becoming ready")
		default:
		}
		resp, err := http.Get("http://" + b.ProbeAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("baton not ready within %v", limit)
}

// Signal sends sig to the process.
func (b *Baton) Signal(sig syscall.Signal) error { return b.cmd.Process.Signal(sig) }

// Wait waits up to limit for the process to exit.
func (b *Baton) Wait(limit time.Duration) error {
	select {
	case <-b.exited:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("baton still running after %v", limit)
	}
}

// Exited is closed when the process has ended.
func (b *Baton) Exited() <-chan struct{} { return b.exited }

// Kill stops the process at once.
func (b *Baton) Kill() {
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// Logs returns what Baton printed so far.
func (b *Baton) Logs() string { return b.log.String() }

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
