package server_test

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/server"
	"github.com/baton-dev/baton/pkg/internal/logtest"
)

// runInBackground runs s.Run and waits until it is serving.
func runInBackground(t *testing.T, s *server.Server, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "Run to start serving", func() bool { return s.Addr("http") != nil })
	t.Cleanup(func() { s.Close() })
	return done
}

func awaitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(safety):
		t.Fatal("Run did not return")
	}
	return nil
}

func TestRunDrainsOnSIGTERM(t *testing.T) {
	b := newBlocker()
	s := server.New(server.Options{Logger: logtest.Logger(t), GracePeriod: safety}, cleartext("http", b))
	done := runInBackground(t, s, context.Background())
	inflight := goGet(h1Client(), "http://"+s.Addr("http").String())
	b.waitEntered(t)

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", s.Addr("http").String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(b.release)
	if r := await(t, inflight); r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request during the drain: %+v", r)
	}
	if err := awaitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunStopsAtOnceOnSIGINT(t *testing.T) {
	b := newBlocker()
	s := server.New(server.Options{Logger: logtest.Logger(t), GracePeriod: time.Hour}, cleartext("http", b))
	done := runInBackground(t, s, context.Background())
	inflight := goGet(h1Client(), "http://"+s.Addr("http").String())
	b.waitEntered(t)

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// With an hour of grace, returning at all means it did not drain.
	if err := awaitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if r := await(t, inflight); r.err == nil {
		t.Fatalf("request survived a fast stop: %+v", r)
	}
}

func TestRunDrainsWhenContextEnds(t *testing.T) {
	b := newBlocker()
	s := server.New(server.Options{Logger: logtest.Logger(t), GracePeriod: safety}, cleartext("http", b))
	ctx, cancel := context.WithCancel(context.Background())
	done := runInBackground(t, s, ctx)
	inflight := goGet(h1Client(), "http://"+s.Addr("http").String())
	b.waitEntered(t)
	cancel()
	close(b.release)
	if r := await(t, inflight); r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := awaitRun(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunDrainCutShortByGracePeriod(t *testing.T) {
	b := newBlocker()
	s := server.New(server.Options{Logger: logtest.Logger(t), GracePeriod: 50 * time.Millisecond}, cleartext("http", b))
	ctx, cancel := context.WithCancel(context.Background())
	done := runInBackground(t, s, ctx)
	inflight := goGet(h1Client(), "http://"+s.Addr("http").String())
	b.waitEntered(t)
	cancel()
	if err := awaitRun(t, done); err == nil {
		t.Fatal("Run reported a clean drain although a request was cut")
	}
	if r := await(t, inflight); r.err == nil && r.body == "finished" {
		t.Fatalf("request finished normally: %+v", r)
	}
}
