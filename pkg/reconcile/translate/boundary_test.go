package translate

import (
	"maps"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
)

// These tests cross the boundary: what translate emits is compiled and
// matched by the data plane's own code, as in production.

// dataPlaneCheck refuses what the data plane's Apply would refuse.
func dataPlaneCheck(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	rt := router.New(lb.NewRegistry(lb.RegistryOptions{}), nil)
	if err := rt.Check(s); err != nil {
		t.Fatalf("the data plane refuses the snapshot translate built: %v", err)
	}
}

// TestEdgeHostsNeverReachTheDataPlaneRefused: hosts the API server
// accepts but the data plane refuses (a label over 63 characters) once
// passed translate, and the refused snapshot froze routing for everyone.
// Each is now dropped at its Ingress with a warning; the others stay.
func TestEdgeHostsNeverReachTheDataPlaneRefused(t *testing.T) {
	label63, label64 := strings.Repeat("a", 63), strings.Repeat("a", 64)
	long := strings.Repeat("abcdefghi.", 25) // 250 characters before the suffix
	cases := []struct {
		host string
		kept bool
	}{
		{label63 + ".example.com", true},
		{label64 + ".example.com", false},
		{"*." + label64 + ".example.com", false},
		{"x." + label64, false},
		{"Upper.Example.COM", true},
		{"trailing.dot.example.com.", false},
		{long + "a.b", true},      // 253 characters, the longest name
		{long + "ab.c", false},    // 254
		{long[:249] + ".a", true}, // 251
		{"under_score.example.com", false},
		{"*.*.example.com", false},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			in := input(with(web("team-a"),
				ingress("team-a", "edge", 0, rule(tc.host, prefix("/", backend("web", 80))), tlsFor("cert", tc.host)),
				ingress("team-a", "good", 5, rule("good.example.com", prefix("/", backend("web", 80)))),
				tlsSecret("team-a", "cert"))...)
			out := Translate(in)
			dataPlaneCheck(t, out.Snapshot)
			hosts := map[string]bool{}
			for _, vh := range out.Snapshot.Hosts {
				hosts[vh.Name] = true
			}
			if !hosts["good.example.com"] {
				t.Fatal("the good Ingress lost its host")
			}
			if kept := hosts[strings.ToLower(tc.host)]; kept != tc.kept {
				t.Fatalf("host kept = %v, want %v (warnings %v)", kept, tc.kept, reasons(out, "team-a/edge"))
			}
			if !tc.kept && !containsReason(reasons(out, "team-a/edge"), ReasonInvalidHost) {
				t.Fatalf("a dropped host must be reported; warnings %v", reasons(out, "team-a/edge"))
			}
		})
	}
}

func containsReason(rs []string, want string) bool {
	for _, r := range rs {
		if r == want {
			return true
		}
	}
	return false
}

// TestUnroutedPathOfATenantHostIsA404 follows a request through the data
// plane: team-b's host with an unrouted path must not reach team-a's
// rule-less default backend (it did, with team-b's cookies).
func TestUnroutedPathOfATenantHostIsA404(t *testing.T) {
	out := Translate(input(with(with(web("team-a"), web("team-b")...),
		ingress("team-a", "catch-all", 0, defaultBackend(backend("web", 80))),
		ingress("team-b", "shop", 5, rule("shop.b.com", prefix("/app", backend("web", 80)))))...))
	dataPlaneCheck(t, out.Snapshot)
	table, err := router.Compile(out.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ host, path, want string }{
		{"shop.b.com", "/app/x", "service/team-b/web/80"},
		{"shop.b.com", "/account", ""},
		{"SHOP.b.com:443", "/", ""},
		{"unknown.org", "/anything", "service/team-a/web/80"},
	}
	for _, tc := range cases {
		got := ""
		if m, ok := table.Match(tc.host, tc.path); ok {
			got = out.Snapshot.Upstreams[m.Upstream].Name
		}
		if got != tc.want {
			t.Errorf("%s%s goes to %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
}

// TestIngressCanarySplitsInTheDataPlane: a baton.dev/canary Ingress is
// served by the data plane's weighted backends, 10 of each 100 requests
// to the canary (smooth weighted round robin is exact over a cycle).
func TestIngressCanarySplitsInTheDataPlane(t *testing.T) {
	out := Translate(input(with(web("default"),
		service("default", "web-v2", svcPort("http", 80)),
		endpointSlice("default", "web-v2", "web-v2-1", map[string]int32{"http": 8080}, readyEP("10.0.1.1")),
		ingress("default", "i", 0, annotation(AnnotationCanary, `{"service":"web-v2","port":"http","weight":10}`),
			rule("a.com", prefix("/", backend("web", 80)))))...))
	dataPlaneCheck(t, out.Snapshot)
	table, err := router.Compile(out.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 100 {
		m, ok := table.Match("a.com", "/x")
		if !ok || m.Upstream < 0 {
			t.Fatalf("a.com/x: matched %v, upstream %d", ok, m.Upstream)
		}
		got[out.Snapshot.Upstreams[m.Upstream].Name]++
	}
	if want := map[string]int{"service/default/web/80": 90, "service/default/web-v2/80": 10}; !maps.Equal(got, want) {
		t.Fatalf("100 requests went to %v, want %v", got, want)
	}
}
