package reconcile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// refusing is a check that refuses any snapshot holding one of the named
// route sources, certificate sources or upstreams, as a data plane with a
// rule translate does not know would.
func refusing(bad ...string) func(*snapshot.Snapshot) error {
	isBad := map[string]bool{}
	for _, b := range bad {
		isBad[b] = true
	}
	return func(s *snapshot.Snapshot) error {
		for _, u := range s.AllUpstreams() {
			if isBad[u.Name] {
				return errors.New("bad upstream " + u.Name)
			}
		}
		for _, c := range s.Certificates {
			if isBad[c.Source] {
				return errors.New("bad certificate " + c.Source)
			}
		}
		for _, vh := range s.AllHosts() {
			for _, r := range vh.Routes {
				if isBad[r.Source] {
					return errors.New("bad routes of " + r.Source)
				}
			}
		}
		return nil
	}
}

func route(path, upstream, source string) snapshot.Route {
	return snapshot.Route{PathType: snapshot.PathPrefix, Path: path, Upstream: upstream, Source: source}
}

// tenants has four Ingresses' routes, two upstreams and two certificates.
func tenants() *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Hosts: []snapshot.VirtualHost{
			{Name: "a.com", Routes: []snapshot.Route{route("/a", "up-a", "ns/a"), route("/shared", "up-bad", "ns/b")}},
			{Name: "c.com", Routes: []snapshot.Route{route("/", "up-a", "ns/c")}},
			{Name: "d.com", Routes: []snapshot.Route{route("/", "up-a", "ns/d")}},
		},
		Upstreams:    []snapshot.Upstream{{Name: "up-a"}, {Name: "up-bad"}},
		Certificates: []snapshot.Certificate{{Source: "ns/cert-good"}, {Source: "ns/cert-bad"}},
	}
}

func TestIsolateKeepsEverythingTheSinkAccepts(t *testing.T) {
	s := tenants()
	check := refusing("up-bad", "ns/cert-bad", "ns/c")
	good, rejected := isolate(s, check)
	if err := check(good); err != nil {
		t.Fatalf("the isolated snapshot is still refused: %v", err)
	}
	var parts []string
	for _, r := range rejected {
		parts = append(parts, r.part.String())
	}
	want := []string{"upstream up-bad", "certificate ns/cert-bad", "routes of ns/c"}
	if !reflect.DeepEqual(parts, want) {
		t.Fatalf("rejected %q, want %q", parts, want)
	}
	wantGood := &snapshot.Snapshot{
		Hosts: []snapshot.VirtualHost{
			{Name: "a.com", Routes: []snapshot.Route{route("/a", "up-a", "ns/a")}},
			{Name: "d.com", Routes: []snapshot.Route{route("/", "up-a", "ns/d")}},
		},
		Upstreams:    []snapshot.Upstream{{Name: "up-a"}},
		Certificates: []snapshot.Certificate{{Source: "ns/cert-good"}},
	}
	if !reflect.DeepEqual(good, wantGood) {
		t.Fatalf("isolated snapshot\n%+v\nwant\n%+v", good, wantGood)
	}
}

func TestIsolateOfAnAcceptedSnapshotIsTheSnapshot(t *testing.T) {
	s := tenants()
	good, rejected := isolate(s, refusing())
	if len(rejected) != 0 || !reflect.DeepEqual(good, s) {
		t.Fatalf("isolate changed an accepted snapshot: rejected %v", rejected)
	}
}

// TestRefusedSnapshotDoesNotFreezeRouting is the defence in depth for
// issue #9's critical defect: a snapshot the data plane refuses (here a
// host label over 63 characters that skipped translate's checks) used to
// be retried forever while every later change waited. Now the refused
// Ingress is left out at once and later changes keep being applied.
func TestRefusedSnapshotDoesNotFreezeRouting(t *testing.T) {
	sink := router.New(lb.NewRegistry(lb.RegistryOptions{}), nil)
	c := &Controller{sink: sink, log: logr.Discard(), ready: make(chan struct{})}
	bad := snapshot.VirtualHost{Name: strings.Repeat("a", 64) + ".example.com", Routes: []snapshot.Route{route("/", "up", "tenant-b/bad")}}
	first := &snapshot.Snapshot{Upstreams: []snapshot.Upstream{{Name: "up"}}, Hosts: []snapshot.VirtualHost{
		bad, {Name: "good.example.com", Routes: []snapshot.Route{route("/", "up", "tenant-a/good")}}}}
	start := time.Now()
	if err := c.apply(first); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("isolating the refused part took %v", elapsed)
	}
	if !c.Ready() {
		t.Fatal("not ready after the first snapshot: a new pod would never serve")
	}
	if len(c.rejected) != 1 || c.rejected[0].part != (part{partRoutes, "tenant-b/bad"}) {
		t.Fatalf("rejected %v, want only tenant-b/bad's routes", c.rejected)
	}
	later := &snapshot.Snapshot{Upstreams: first.Upstreams, Hosts: append([]snapshot.VirtualHost{bad},
		snapshot.VirtualHost{Name: "good.example.com", Routes: []snapshot.Route{route("/", "up", "tenant-a/good")}},
		snapshot.VirtualHost{Name: "new.example.com", Routes: []snapshot.Route{route("/", "up", "tenant-c/new")}})}
	if err := c.apply(later); err != nil {
		t.Fatalf("apply of a later change: %v", err)
	}
	if v := sink.Version(); v != later.Version {
		t.Fatalf("the data plane serves snapshot %d, want the latest, %d", v, later.Version)
	}
}

// TestChangesSinceAPartlyAppliedSnapshotAreNotTrusted: after the data
// plane refused part of a snapshot, it holds the rest under that
// snapshot's version, so the next snapshot's Changes (what differs from
// the whole one) do not say what differs from the data plane's; trusted,
// they let the refused host in unchecked. The refused part stays refused.
func TestChangesSinceAPartlyAppliedSnapshotAreNotTrusted(t *testing.T) {
	sink := router.New(lb.NewRegistry(lb.RegistryOptions{}), nil)
	c := &Controller{sink: sink, log: logr.Discard(), ready: make(chan struct{})}
	bad := snapshot.VirtualHost{Name: strings.Repeat("a", 64) + ".example.com", Routes: []snapshot.Route{route("/", "up", "tenant-b/bad")}}
	good := snapshot.VirtualHost{Name: "good.example.com", Routes: []snapshot.Route{route("/", "up", "tenant-a/good")}}
	first := &snapshot.Snapshot{Upstreams: []snapshot.Upstream{{Name: "up"}}, Hosts: []snapshot.VirtualHost{bad, good}}
	if err := c.apply(first); err != nil {
		t.Fatalf("apply: %v", err)
	}
	added := snapshot.VirtualHost{Name: "new.example.com", Routes: []snapshot.Route{route("/", "up", "tenant-c/new")}}
	later := &snapshot.Snapshot{Upstreams: first.Upstreams, Hosts: []snapshot.VirtualHost{bad, good, added},
		Changes: &snapshot.Changes{Base: first.Version, Hosts: []string{added.Name}}}
	if err := c.apply(later); err != nil {
		t.Fatalf("apply of a later change: %v", err)
	}
	if len(c.rejected) != 1 || c.rejected[0].part != (part{partRoutes, "tenant-b/bad"}) {
		t.Fatalf("rejected %v after the later change, want tenant-b/bad's routes still", c.rejected)
	}
}

func TestRejectionsAreReportedOnTheirObjects(t *testing.T) {
	s := tenants()
	out := translate.Output{
		Ingresses: translate.NewIngressResults([]translate.IngressResult{
			{Key: types.NamespacedName{Namespace: "ns", Name: "b"}, Conditions: []metav1.Condition{{Type: translate.ConditionAccepted, Status: metav1.ConditionTrue}}},
			{Key: types.NamespacedName{Namespace: "ns", Name: "c"}, Conditions: []metav1.Condition{{Type: translate.ConditionAccepted, Status: metav1.ConditionTrue}}},
			{Key: types.NamespacedName{Namespace: "ns", Name: "d"}, Conditions: []metav1.Condition{{Type: translate.ConditionAccepted, Status: metav1.ConditionTrue}}},
		}),
		GoodCertificates: map[types.NamespacedName]snapshot.Certificate{{Namespace: "ns", Name: "cert-bad"}: {}},
	}
	_, rejected := isolate(s, refusing("up-bad", "ns/cert-bad", "ns/c"))
	// The translate Cache returns its lists again while nothing changes:
	// reporting must leave them as they were.
	cached := out.Ingresses
	reportRejections(&out, s, nil, rejected)
	for _, r := range cached.All() {
		if r.Conditions[0].Status != metav1.ConditionTrue || len(r.Warnings) != 0 {
			t.Fatalf("%s: the translation's own result was modified: %+v", r.Key, r)
		}
	}
	for _, r := range out.Ingresses.All() {
		refused := r.Key.Name == "b" || r.Key.Name == "c" // b's route used the refused upstream
		if got := r.Conditions[0].Status == metav1.ConditionFalse; got != refused {
			t.Errorf("%s: Accepted False = %v, want %v", r.Key, got, refused)
		}
		if refused && (len(r.Warnings) != 1 || r.Warnings[0].Reason != ReasonRejectedByDataPlane) {
			t.Errorf("%s: warnings %v, want one %s", r.Key, r.Warnings, ReasonRejectedByDataPlane)
		}
	}
	if len(out.GoodCertificates) != 0 {
		t.Error("a certificate the data plane refused still counts as good")
	}
}

// TestRestrictKeepsRoutesWithAnInvalidBackend: an Invalid backend names
// no upstream, so isolating another part must not drop its route.
func TestRestrictKeepsRoutesWithAnInvalidBackend(t *testing.T) {
	r := snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Source: "ns/r",
		Backends: []snapshot.WeightedBackend{{Upstream: "up-a", Weight: 1}, {Invalid: true, Weight: 1}}}
	s := &snapshot.Snapshot{Upstreams: []snapshot.Upstream{{Name: "up-a"}},
		Gateways: []snapshot.Gateway{{Name: "ns/gw", Ports: []snapshot.GatewayPort{{Port: 80,
			Hosts: []snapshot.VirtualHost{{Name: "a.com", Routes: []snapshot.Route{r}}}}}}}}
	got := restrict(s, map[part]bool{{partUpstream, "up-a"}: true, {partGateway, "ns/gw"}: true})
	if len(got.Gateways) != 1 || len(got.Gateways[0].Ports[0].Hosts) != 1 {
		t.Fatalf("the route with an invalid backend was dropped: %+v", got.Gateways)
	}
}

// An Ingress canary route (baton.dev/canary) has weighted Backends and no
// Upstream: isolating a refused part must keep it while its upstreams
// stand, drop it with a refused one, and blame that refusal on it.
func TestIsolateOfIngressCanaryRoutes(t *testing.T) {
	canary := snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Source: "ns/canary",
		Backends: []snapshot.WeightedBackend{{Upstream: "up-a", Weight: 90}, {Upstream: "up-v2", Weight: 10}}}
	s := &snapshot.Snapshot{
		Hosts: []snapshot.VirtualHost{
			{Name: "a.com", Routes: []snapshot.Route{canary}},
			{Name: "c.com", Routes: []snapshot.Route{route("/", "up-a", "ns/c")}},
		},
		Upstreams: []snapshot.Upstream{{Name: "up-a"}, {Name: "up-v2"}},
	}
	good, _ := isolate(s, refusing("ns/c"))
	if len(good.Hosts) != 1 || good.Hosts[0].Name != "a.com" {
		t.Fatalf("isolating another Ingress dropped the canary route: %+v", good.Hosts)
	}
	good, rejected := isolate(s, refusing("up-v2"))
	if len(good.Hosts) != 1 || good.Hosts[0].Name != "c.com" {
		t.Fatalf("the canary route outlived its refused upstream: %+v", good.Hosts)
	}
	if len(rejected) != 1 {
		t.Fatalf("rejected %v, want only up-v2", rejected)
	}
	if got := ingressesOf(rejected[0].part, s, nil); len(got) != 1 || got[0].Name != "canary" {
		t.Fatalf("the refused canary upstream is blamed on %v, want ns/canary", got)
	}
}
