package framework

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"time"
)

// Baton is the controller binary running out of cluster.
type Baton struct {
	HTTPAddr    string
	HTTPSAddr   string
	ProbeAddr   string
	MetricsAddr string
	// ProbeSocket, when set, is where this process alone answers probes.
	ProbeSocket string
	cmd         *exec.Cmd
	log         *syncBuffer
	exited      chan struct{}
}

// BatonOptions choose the binary and its extra flags.
type BatonOptions struct {
	Binary     string
	Kubeconfig string
	Args       []string
	// The addresses default to free loopback ports; a successor in a
	// handoff test passes its predecessor's, as pods sharing a node's
	// network (hostNetwork) do.
	HTTPAddr, HTTPSAddr, ProbeAddr, MetricsAddr string
	// ProbeSocket sets --probe-socket; readiness is then asked there, since
	// the TCP probe port may still be answered by a predecessor.
	ProbeSocket string
}

// StartBaton runs Baton and waits until /readyz says it serves.
func StartBaton(o BatonOptions) (*Baton, error) {
	b := &Baton{HTTPAddr: orFree(o.HTTPAddr), HTTPSAddr: orFree(o.HTTPSAddr), ProbeAddr: orFree(o.ProbeAddr),
		MetricsAddr: orFree(o.MetricsAddr), ProbeSocket: o.ProbeSocket, log: &syncBuffer{}, exited: make(chan struct{})}
	args := []string{"--kubeconfig", o.Kubeconfig,
		"--http-bind-address", b.HTTPAddr, "--https-bind-address", b.HTTPSAddr,
		"--health-probe-bind-address", b.ProbeAddr, "--metrics-bind-address", b.MetricsAddr}
	if b.ProbeSocket != "" {
		args = append(args, "--probe-socket", b.ProbeSocket)
	}
	args = append(args, o.Args...)
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
		if ok, _ := b.Ready(); ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("baton not ready within %v", limit)
}

// Ready asks /readyz, on the probe socket when there is one, and returns
// the answer's body as the reason.
func (b *Baton) Ready() (bool, string) {
	client, url := http.DefaultClient, "http://"+b.ProbeAddr+"/readyz"
	if b.ProbeSocket != "" {
		client, url = unixClient(b.ProbeSocket), "http://baton/readyz"
	}
	resp, err := client.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK, string(body)
}

func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

func orFree(addr string) string {
	if addr == "" {
		return FreeAddr()
	}
	return addr
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
