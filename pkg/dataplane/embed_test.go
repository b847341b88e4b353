package dataplane

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// answering phases reply themselves, naming the process generation.
type answering struct {
	proxy.NopPhases[struct{}]
	name string
}

func (a answering) RequestFilter(s *proxy.Session, _ struct{}) (bool, error) {
	_, err := io.WriteString(s.Writer, a.name)
	return true, err
}

func (a answering) UpstreamPeer(*proxy.Session, struct{}) (*proxy.Peer, error) {
	return nil, errors.New("answering phases never go upstream")
}

func extraService(name, addr string) server.Service {
	return server.Service{Name: "extra", Handler: proxy.New(answering{name: name}, proxy.Options{}),
		Listeners: []server.Listener{{Name: "extra", Addr: addr}}}
}

func bodyOf(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return bodyOf(t, req)
}

// An embedder's Service is served next to the router and moves to the
// successor in a handoff like the router's listeners.
func TestExtraServiceMovesWithTheHandoff(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "handoff.sock")
	opts := Options{HTTPAddr: "127.0.0.1:0", HandoffSocket: sock, Services: []server.Service{extraService("first", "127.0.0.1:0")}}
	first := start(t, opts, snapshotTo(1, backend(t, "a")))
	addr := first.Addr("extra").String()
	if _, body := getBody(t, "http://"+addr+"/"); body != "first" {
		t.Fatalf("extra service answered %q, want first", body)
	}

	// The port is busy: the successor can only serve it on the taken socket.
	opts.Services = []server.Service{extraService("second", addr)}
	second := start(t, opts, snapshotTo(1, backend(t, "a")))
	select {
	case <-first.TakenOver():
	case <-time.After(10 * time.Second):
		t.Fatal("the successor did not take the listeners")
	}
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := second.Addr("extra").String(); got != addr {
		t.Errorf("successor serves the extra service on %s, want %s", got, addr)
	}
	if _, body := getBody(t, "http://"+addr+"/"); body != "second" {
		t.Errorf("after the handoff the extra service answered %q, want second", body)
	}
}

// auth wraps the router: it refuses requests without a token and routes
// the others as the router does.
type auth struct {
	proxy.Phases[*router.RequestCtx]
}

func (a auth) RequestFilter(s *proxy.Session, ctx *router.RequestCtx) (bool, error) {
	if s.Request.Header.Get("X-Token") != "open-sesame" {
		s.Writer.WriteHeader(http.StatusForbidden)
		s.Status = http.StatusForbidden
		return true, nil
	}
	return a.Phases.RequestFilter(s, ctx)
}

func TestWrapRouterRunsAroundTheRouter(t *testing.T) {
	opts := Options{HTTPAddr: "127.0.0.1:0", WrapRouter: func(r proxy.Phases[*router.RequestCtx]) proxy.Phases[*router.RequestCtx] {
		return auth{r}
	}}
	dp := start(t, opts, snapshotTo(1, backend(t, "a")))
	url := "http://" + dp.Addr(ListenerHTTP).String() + "/"
	for _, c := range []struct {
		token, host string
		status      int
		body        string
	}{
		{"", "swap.test", http.StatusForbidden, ""},
		{"open-sesame", "swap.test", http.StatusOK, "a"},
		{"open-sesame", "other.test", http.StatusNotFound, "no route for this host and path\n"},
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = c.host
		if c.token != "" {
			req.Header.Set("X-Token", c.token)
		}
		if status, body := bodyOf(t, req); status != c.status || body != c.body {
			t.Errorf("token %q host %s: %d %q, want %d %q", c.token, c.host, status, body, c.status, c.body)
		}
	}
}

// A listener name used twice would hand one service's socket to another.
func TestDuplicateListenerNameIsRefused(t *testing.T) {
	dp := New(Options{HTTPAddr: "127.0.0.1:0", Services: []server.Service{extraService("x", "127.0.0.1:0")},
		AdminListeners: []AdminListener{{Name: "extra", Addr: "127.0.0.1:0"}}})
	err := dp.Start(context.Background())
	if err == nil {
		dp.Close()
		t.Fatal("Start accepted a listener name used by a service and an admin listener")
	}
	if !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("error %q does not name the listener", err)
	}
}

// Run drains when its context ends and returns why; SIGINT stops at once.
func TestRunStops(t *testing.T) {
	boom := errors.New("manager failed")
	for _, c := range []struct {
		name string
		stop func(cancel context.CancelCauseFunc, signals chan os.Signal)
		want error
	}{
		{"cause", func(cancel context.CancelCauseFunc, _ chan os.Signal) { cancel(boom) }, boom},
		{"cancel", func(cancel context.CancelCauseFunc, _ chan os.Signal) { cancel(nil) }, nil},
		{"SIGINT", func(_ context.CancelCauseFunc, s chan os.Signal) { s <- syscall.SIGINT }, nil},
		{"SIGTERM", func(_ context.CancelCauseFunc, s chan os.Signal) { s <- syscall.SIGTERM }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dp := New(Options{Services: []server.Service{extraService("x", "127.0.0.1:0")}})
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			signals := make(chan os.Signal, 1)
			serving, drained, done := make(chan struct{}), false, make(chan error, 1)
			go func() {
				done <- dp.Run(ctx, RunOptions{Signals: signals, Serving: func() { close(serving) }, Draining: func() { drained = true }})
			}()
			<-serving
			c.stop(cancel, signals)
			if err := <-done; !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Errorf("Run returned %v, want %v", err, c.want)
			}
			if wantDrain := c.name != "SIGINT"; drained != wantDrain {
				t.Errorf("drained = %v, want %v", drained, wantDrain)
			}
		})
	}
}
