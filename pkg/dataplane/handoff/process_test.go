package handoff

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Three generations of real processes hand one listening socket down while
// eight clients keep sending requests: nothing may fail, and every
// generation must have served.
func TestUpgradeUnderLoadAcrossThreeProcesses(t *testing.T) {
	path := sockPath(t)
	gen1 := startChild(t, "serve", path)
	if gen1.took {
		t.Fatal("the first process took listeners from nobody")
	}
	ld := startLoad(gen1.addr, 8)
	defer ld.halt()
	ld.waitServedBy(t, gen1.pid)

	gen2 := upgrade(t, ld, path, gen1)
	gen3 := upgrade(t, ld, path, gen2)

	stats := ld.halt()
	gen3.stop(t)
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the last generation left its socket file behind: %v", err)
	}
	t.Logf("requests: %d sent, %d failed (%d on fresh connections, %d on keep-alive ones); served by pid: %v",
		stats.total, len(stats.failures), stats.fresh, stats.total-stats.fresh, stats.byPID)
	if len(stats.failures) > 0 {
		t.Fatalf("%d requests failed, first ones: %q", len(stats.failures), stats.failures[:min(5, len(stats.failures))])
	}
	for _, g := range []*child{gen1, gen2, gen3} {
		if stats.byPID[g.pid] == 0 {
			t.Errorf("pid %s served no requests", g.pid)
		}
	}
}

// upgrade starts the next generation and waits until the previous one has
// drained and exited and the new one is answering.
func upgrade(t *testing.T, ld *load, path string, prev *child) *child {
	t.Helper()
	next := startChild(t, "serve", path)
	if !next.took || next.addr != prev.addr {
		t.Fatalf("generation %s: took=%v addr=%s, want the listener %s", next.pid, next.took, next.addr, prev.addr)
	}
	prev.expect(t, "TAKEN")
	drained := prev.expect(t, "DRAINED")
	if err := prev.wait(t); err != nil {
		t.Fatalf("pid %s exited with %v\n%s", prev.pid, err, prev.stderr.String())
	}
	t.Logf("pid %s drained after serving %s requests", prev.pid, drained["served"])
	ld.waitServedBy(t, next.pid)
	return next
}

// A predecessor killed between sending the descriptors and acknowledging
// leaves the successor with working listeners, including connections that
// were already queued, and a stale socket file the next Take removes.
func TestPredecessorKilledAfterSendingListeners(t *testing.T) {
	path := sockPath(t)
	old := startChild(t, "hold", path)
	queued, err := net.DialTimeout("tcp", old.addr, safety) // lands in the backlog
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	tk := takeT(t, path)
	old.kill(t)

	if err := tk.Confirm(); !errors.Is(err, ErrPredecessorGone) {
		t.Fatalf("Confirm to a killed process: got %v, want ErrPredecessorGone", err)
	}
	s := acceptWithin(t, tk.Listeners["http"])
	defer s.Close()
	echoCheck(t, queued, s)
	roundTrip(t, tk.Listeners["http"], old.addr)

	if _, err := Take(context.Background(), path); !errors.Is(err, ErrNoPredecessor) {
		t.Fatalf("Take after the kill: got %v, want ErrNoPredecessor", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("the killed process's socket file is still there: %v", err)
	}
}

func TestPredecessorExitsAfterAcceptingTheSuccessor(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	old := startChild(t, "die-on-connect", path)
	if _, err := Take(context.Background(), path); !errors.Is(err, ErrPredecessorGone) {
		t.Fatalf("got %v, want ErrPredecessorGone", err)
	}
	if err := old.wait(t); err == nil {
		t.Fatal("the dying child exited cleanly")
	}
	if _, err := Take(context.Background(), path); !errors.Is(err, ErrNoPredecessor) {
		t.Fatalf("Take after the exit: got %v, want ErrNoPredecessor", err)
	}
}

// The socket file is 0600, but root, or a misconfigured directory, could
// still let another user connect; the offerer checks SO_PEERCRED itself.
func TestOffererRefusesAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	path := sockPath(t)
	offerT(t, path, map[string]net.Listener{"http": tcpListener(t)})
	for _, p := range []string{filepath.Dir(filepath.Dir(path)), filepath.Dir(path)} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(path, 0o666) // the misconfiguration
	bin := filepath.Join(filepath.Dir(path), "handoff.test")
	copyExecutable(t, os.Args[0], bin)

	c := newChild(t, bin, "take-once", path)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	c.start(t)
	if got := c.expect(t, "RESULT"); got["refused"] != "true" {
		c.wait(t)
		t.Fatalf("a process of uid 65534 was not refused:\n%s", c.stderr.String())
	}
	c.wait(t) // stderr is complete once the child is reaped
	if !strings.Contains(c.stderr.String(), "runs as uid 65534") {
		t.Errorf("the refusal does not say why:\n%s", c.stderr.String())
	}
	takeT(t, path).Abort() // still offering to its own user
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr lockedLog
	exited chan struct{}
	err    error

	pid, addr string
	took      bool
}

func startChild(t *testing.T, role, path string) *child {
	t.Helper()
	c := newChild(t, os.Args[0], role, path)
	c.start(t)
	ready := c.expect(t, "READY")
	c.pid, c.addr, c.took = ready["pid"], ready["addr"], ready["took"] == "true"
	return c
}

func newChild(t *testing.T, bin, role, path string) *child {
	c := &child{lines: make(chan string, 64), exited: make(chan struct{})}
	c.cmd = exec.Command(bin, "-test.run=^TestChildProcess$")
	c.cmd.Env = append(os.Environ(), envChildRole+"="+role, envChildPath+"="+path)
	c.cmd.Stderr = writerFunc(func(p []byte) { c.stderr.printf("%s", p) })
	return c
}

func (c *child) start(t *testing.T) {
	t.Helper()
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go c.readAndWait(stdout)
	t.Cleanup(func() { c.kill(t) })
}

// readAndWait forwards the child's report lines, then reaps it: Wait must
// not run before the reads from its stdout are done.
func (c *child) readAndWait(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), childPrefix); ok {
			c.lines <- line
		}
	}
	close(c.lines)
	c.err = c.cmd.Wait()
	close(c.exited)
}

// expect returns the fields of the child's next report of kind.
func (c *child) expect(t *testing.T, kind string) map[string]string {
	t.Helper()
	timeout := time.After(safety)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("child %s exited before reporting %s:\n%s", c.pid, kind, c.stderr.String())
			}
			fields := strings.Fields(line)
			if fields[0] != kind {
				continue
			}
			kv := map[string]string{}
			for _, f := range fields[1:] {
				k, v, _ := strings.Cut(f, "=")
				kv[k] = v
			}
			return kv
		case <-timeout:
			t.Fatalf("child %s did not report %s:\n%s", c.pid, kind, c.stderr.String())
		}
	}
}

func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(safety):
		t.Fatalf("child %s did not exit", c.pid)
		return nil
	}
}

// stop closes the child's stdin, which a serving child takes as the signal
// to drain and exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	c.expect(t, "DRAINED")
	if err := c.wait(t); err != nil {
		t.Fatalf("child %s: %v\n%s", c.pid, err, c.stderr.String())
	}
}

// kill ends this child (by its own pid) unless it already exited.
func (c *child) kill(t *testing.T) {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Kill()
	<-c.exited
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

var _ io.Writer = writerFunc(nil)
