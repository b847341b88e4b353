package router

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// The router reads the client's fields from the proxy's view: the HTTP/1
// server makes the rig's requests no header map at all.
func TestRouterGetsNoHeaderMap(t *testing.T) {
	if (&Router{}).ReadsRequestHeader() {
		t.Fatal("the router says it reads Request.Header")
	}
	rig := newProxyRig(t)
	rig.route(t, "x.test", snapshot.Upstream{Endpoints: []snapshot.Endpoint{{Address: newEchoBackend(t, "b").addr}}})
	if status, _ := rig.get(t, "x.test", http.Header{"X-A": {"1"}}); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if n, maps := rig.arrivals.Load(), rig.withMap.Load(); n != 1 || maps != 0 {
		t.Errorf("%d requests, %d of them with a header map; want 1 and 0", n, maps)
	}
}

// Header matches read the fields as the client sent them over HTTP/1,
// without a header map: any case, repeated fields joined by commas.
func TestHeaderMatchesWithoutHeaderMap(t *testing.T) {
	one, two := backend(t, named("one")), backend(t, named("two"))
	rig := newProxyRig(t)
	rig.serve(t, "gw.test", []snapshot.Route{
		gwRoute(pfx, "/", "one", withHeader("version", "one", false), withOrder(0)),
		gwRoute(pfx, "/", "two", withHeader("Color", "blue,red", false), withOrder(1)),
		gwRoute(pfx, "/", "two", withHeader("X-Id", "^[0-9a-f]{8}$", true), withOrder(2)),
	}, map[string]string{"one": one, "two": two})
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"exact, name in lower case", http.Header{"version": {"one"}}, "one"},
		{"repeated, joined", http.Header{"Color": {"blue", "red"}}, "two"},
		{"regex", http.Header{"X-Id": {"0123abcd"}}, "two"},
		{"none matches", http.Header{"Version": {"two"}}, ""},
	} {
		req := rigRequest(t, "GET", "gw.test", "/", nil)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		resp, body := rig.do(t, req)
		if tc.want == "" && resp.StatusCode != http.StatusNotFound || tc.want != "" && body != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.name, resp.StatusCode, body, tc.want)
		}
	}
}

// A mirror gets the client's fields, which the proxy copied from the
// server's list: there is no header map to copy them from.
func TestMirrorCarriesTheClientsFields(t *testing.T) {
	got := make(chan string, 1)
	mirror := backend(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("X-Client") })
	rig := newProxyRig(t)
	rig.serve(t, "mirror.test", []snapshot.Route{filtered("/", snapshot.RouteFilters{Mirrors: []string{"m"}})},
		map[string]string{"main": backend(t, named("main")), "m": mirror})
	req := rigRequest(t, "GET", "mirror.test", "/", nil)
	req.Header.Set("X-Client", "from the client")
	if resp, body := rig.do(t, req); resp.StatusCode != http.StatusOK || body != "main" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	select {
	case m := <-got:
		if m != "from the client" {
			t.Errorf("the mirror got X-Client %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the mirror got no request")
	}
}

func named(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }
}
