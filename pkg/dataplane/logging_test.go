package dataplane

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/handoff"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/logtest"
	"github.com/baton-dev/baton/pkg/internal/nettest"
)

// One request whose first endpoint refuses the connection yields exactly
// one line, written by Shutdown at the latest, naming the endpoint that
// answered, both attempts and the Ingress that routed it.
func TestAccessLogLinePerRequest(t *testing.T) {
	var seen atomic.Value // the X-Request-Id the backend got
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Request-Id"))
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created")
	}))
	t.Cleanup(good.Close)
	goodAddr := strings.TrimPrefix(good.URL, "http://")
	// Smooth weighted round robin on a fresh pool picks the heavy endpoint first.
	s := &snapshot.Snapshot{Version: 1,
		Hosts: []snapshot.VirtualHost{{Name: "shop.test", Routes: []snapshot.Route{{Path: "/", Upstream: "u", Source: "shop/web"}}}},
		Upstreams: []snapshot.Upstream{{Name: "u", Policy: snapshot.PolicyWeighted, Endpoints: []snapshot.Endpoint{
			{Address: nettest.RefusedAddr(t), Weight: 10}, {Address: goodAddr, Weight: 1}}}},
	}
	out := &logtest.Buffer{}
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0", AccessLog: accesslog.New(out, accesslog.Options{})}, s)

	req, _ := http.NewRequest("POST", "http://"+dp.Addr(ListenerHTTP).String()+"/a/../cart", strings.NewReader("hello"))
	req.Host = "shop.test"
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	seenID, _ := seen.Load().(string)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines for one request, want 1:\n%s", len(lines), out.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	want := map[string]any{
		"status": 201.0, "upstream_status": 201.0, "upstream_addr": goodAddr, "attempts": 2.0,
		"source": "shop/web", "upstream": "u", "method": "POST", "host": "shop.test", "path": "/cart",
		"protocol": "HTTP/1.1", "client": "127.0.0.1", "bytes_received": 5.0, "bytes_sent": 7.0,
		"request_id": seenID,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if seenID == "" {
		t.Error("the backend got no X-Request-Id")
	}
}

// A successor that takes the listeners and then gives up must show in the
// predecessor's log: before, the data plane gave the offerer no logger.
func TestFailedHandoffIsLogged(t *testing.T) {
	logs := logtest.NewRecorder()
	sock := filepath.Join(t.TempDir(), "handoff.sock")
	start(t, Options{HTTPAddr: "127.0.0.1:0", HandoffSocket: sock, Logger: logs.Logger()}, snapshotTo(1, backend(t, "a")))
	taken, err := handoff.Take(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range taken.Listeners {
		l.Close()
	}
	if err := taken.Abort(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, ok := logs.Find("handoff: a successor did not take the listeners")
		if ok {
			if r.Level != slog.LevelError || r.Attrs["socket"].String() != sock || r.Attrs["err"].String() == "" {
				t.Errorf("logged as %+v, want an error with socket and err", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed handoff was not logged; records: %+v", logs.Records())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
