package handoff

// The two-process tests re-execute this test binary; TestChildProcess is the
// entry point of those children, and this file is all they run.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

const (
	envChildRole = "BATON_HANDOFF_CHILD_ROLE"
	envChildPath = "BATON_HANDOFF_CHILD_PATH"
	childPrefix  = "HANDOFF-CHILD "
)

func TestChildProcess(t *testing.T) {
	role := os.Getenv(envChildRole)
	if role == "" {
		t.Skip("helper process for the two-process tests")
	}
	path := os.Getenv(envChildPath)
	var err error
	switch role {
	case "serve":
		err = serveChild(path)
	case "hold":
		err = holdChild(path)
	case "die-on-connect":
		err = dieOnConnectChild(path)
	case "take-once":
		_, err := Take(context.Background(), path)
		fmt.Fprintf(os.Stderr, "take: %v\n", err)
		report("RESULT", "refused", errors.Is(err, ErrRefused))
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %d (%s): %v\n", os.Getpid(), role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func report(kind string, kv ...any) {
	line := childPrefix + kind
	for i := 0; i+1 < len(kv); i += 2 {
		line += fmt.Sprintf(" %v=%v", kv[i], kv[i+1])
	}
	fmt.Println(line)
}

// serveChild is one generation of an upgradable HTTP server: it takes the
// listener from its predecessor (or opens one), serves, confirms, offers it
// on, and drains when a successor takes over or its stdin closes.
func serveChild(path string) error {
	ln, taken, err := takeOrListen(path)
	if err != nil {
		return err
	}
	srv := newChildServer(ln)
	if taken != nil {
		if err := taken.Confirm(); err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
	}
	takenOver := make(chan struct{})
	o, err := Offer(context.Background(), path, map[string]net.Listener{"http": ln}, func() { close(takenOver) })
	if err != nil {
		return err
	}
	report("READY", "pid", os.Getpid(), "addr", ln.Addr(), "took", taken != nil)
	select {
	case <-takenOver:
		report("TAKEN")
	case <-stdinClosed():
	}
	o.Close()
	if err := srv.drain(15 * time.Second); err != nil {
		return err
	}
	report("DRAINED", "served", srv.served.Load())
	return nil
}

type childServer struct {
	http.Server
	ln        net.Listener
	serveDone chan struct{}
	open      atomic.Int64 // accepted connections not yet closed
	served    atomic.Int64
}

func newChildServer(ln net.Listener) *childServer {
	s := &childServer{ln: ln, serveDone: make(chan struct{})}
	pid := strconv.Itoa(os.Getpid())
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // keep requests in flight across the takeover
		s.served.Add(1)
		w.Header().Set("X-Served-By", pid)
		io.WriteString(w, "ok")
	})
	s.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	go func() {
		s.Serve(ln)
		close(s.serveDone)
	}()
	return s
}

// drain stops accepting and lets every accepted connection finish. It does
// not use http.Server.Shutdown for that: Shutdown drops, without a response,
// a connection accepted just before it whose first request is read just
// after it (net/http's conn.serve returns when shuttingDown()), which is
// exactly the connection a handoff must not lose. Disabling keep-alives
// instead answers every request and closes each connection after it.
func (s *childServer) drain(grace time.Duration) error {
	s.ln.Close()  // this process's descriptor only; the successor keeps the socket
	<-s.serveDone // from here on no connection is added
	deadline := time.Now().Add(grace)
	for {
		s.SetKeepAlivesEnabled(false) // also closes connections idle between requests
		if s.open.Load() == 0 {
			return s.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drain: %d connections still open after %s", s.open.Load(), grace)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func takeOrListen(path string) (net.Listener, *Taken, error) {
	taken, err := Take(context.Background(), path)
	if err == nil {
		return taken.Listeners["http"], taken, nil
	}
	if !errors.Is(err, ErrNoPredecessor) {
		return nil, nil, fmt.Errorf("take: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	return ln, nil, err
}

// holdChild offers a listener it never accepts on and waits to be killed.
func holdChild(path string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := Offer(context.Background(), path, map[string]net.Listener{"http": ln}, func() {}, WithConfirmTimeout(time.Hour)); err != nil {
		return err
	}
	report("READY", "pid", os.Getpid(), "addr", ln.Addr(), "took", false)
	<-stdinClosed()
	return nil
}

// dieOnConnectChild accepts a successor and exits before sending anything.
func dieOnConnectChild(path string) error {
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
	if err != nil {
		return err
	}
	report("READY", "pid", os.Getpid(), "addr", "none", "took", false)
	if _, err := ln.AcceptUnix(); err != nil {
		return err
	}
	os.Exit(3) // no deferred cleanup: the socket file stays, as after a crash
	return nil
}

func stdinClosed() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(ch)
	}()
	return ch
}
