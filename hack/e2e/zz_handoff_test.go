package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// TestHandoffUnderLoad replaces the Baton process twice while clients send
// requests at constant concurrency and a long streaming response is in
// flight: no connection may be refused or reset and no request may fail.
// Every generation uses the same ports for traffic, probes and metrics, as
// pods in hostNetwork mode do: all four sockets must move.
func TestHandoffUnderLoad(t *testing.T) {
	ns := namespace(t, "handoff")
	pods := startPods(t, 7, 8)
	create(t, ingressClass("handoff"), service(ns, "web"), endpointSlice(ns, "web", pods...),
		ingress(ns, "web", "handoff", rule{"handoff.test", "/", "web"}))
	socket := filepath.Join(t.TempDir(), "handoff.sock")
	first := startBaton(t, "handoff", "--handoff-socket", socket, "--shutdown-grace-period", "20s")

	l := startLoad(first.HTTPAddr, "handoff.test", 8)
	stream := startStream(t, first.HTTPAddr, "handoff.test", 40) // ~4s of chunks
	current := first
	for generation := 2; generation <= 3; generation++ {
		time.Sleep(time.Second)
		next, err := framework.StartBaton(framework.BatonOptions{Binary: bin("baton"), Kubeconfig: cp.Kubeconfig,
			HTTPAddr: first.HTTPAddr, HTTPSAddr: first.HTTPSAddr, ProbeAddr: first.ProbeAddr, MetricsAddr: first.MetricsAddr,
			Args: []string{"--ingress-class", "handoff", "--controller-name", "baton.dev/handoff",
				"--handoff-socket", socket, "--shutdown-grace-period", "20s"}})
		if err != nil {
			t.Fatalf("generation %d: %v", generation, err)
		}
		t.Cleanup(next.Kill)
		if err := current.Wait(30 * time.Second); err != nil {
			t.Fatalf("generation %d did not make its predecessor exit: %v\n%s", generation, err, tail(current.Logs(), 30))
		}
		if !tookListeners(next.Logs(), 4) {
			t.Errorf("generation %d opened its own listeners instead of taking them:\n%s", generation, tail(next.Logs(), 20))
		}
		current = next
	}
	time.Sleep(time.Second)
	l.finish(t)
	if err := <-stream; err != nil {
		t.Errorf("streaming response across the handoff: %v", err)
	}
	_ = current.Signal(syscall.SIGTERM)
	if err := current.Wait(30 * time.Second); err != nil {
		t.Error(err)
	}
}

// startStream reads a streaming response of n chunks and reports whether it
// arrived whole.
func startStream(t *testing.T, addr, host string, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/stream?n="+itoa(n), nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && (strings.Count(string(body), "chunk ") != n || !strings.HasSuffix(string(body), "done\n")) {
			err = errIncomplete(len(body))
		}
		done <- err
	}()
	return done
}

type errIncomplete int

func (e errIncomplete) Error() string { return "stream ended early after " + itoa(int(e)) + " bytes" }

func itoa(n int) string { return strconv.Itoa(n) }
