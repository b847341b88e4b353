package router

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/internal/allocstest"
	"github.com/baton-dev/baton/pkg/lb"
)

// TestApplyReusingEqualsCompile applies a sequence of snapshots, each the
// previous one with some hosts kept (their Routes slice shared, as the
// translate Cache shares it), some changed, added or removed, and
// upstreams added or removed so that indexes shift; after every Apply the
// table in force must match every request as Compile's table does.
func TestApplyReusingEqualsCompile(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	r := newTestRouter(t)
	var s *snapshot.Snapshot
	var before, wantBefore *Table
	for step := range 300 {
		s = nextSnapshot(rng, s)
		s.Version = uint64(step + 1)
		if err := r.Apply(s); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		want, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		got := r.current.Load()
		where := fmt.Sprintf("seed %d step %d", seed, step)
		checkRuntimes(t, where, &got.upstreams, s)
		sameMatches(t, where, got.table, want, &got.upstreams)
		if before != nil { // a request that started on it still sees it as it was
			sameMatches(t, where+", table before", before, wantBefore, nil)
		}
		before, wantBefore = got.table, want
	}
}

// sameMatches: got matches every probe request as want does, and (given
// runtimes) to the runtime of the matched route's upstream.
func sameMatches(t *testing.T, where string, got, want *Table, runtimes *slotList) {
	t.Helper()
	for _, host := range []string{"h0", "h1", "h2", "h3", "h4", "x.w", "h9", ""} {
		for _, path := range []string{"/", "/a", "/a/b", "/b"} {
			gm, gok := got.Match(host, path)
			wm, wok := want.Match(host, path)
			if gok != wok || gok && !reflect.DeepEqual(*gm.Route, *wm.Route) {
				t.Fatalf("%s: %s%s matched %+v %v, Compile's table %+v %v", where, host, path, gm, gok, wm, wok)
			}
			if gok && runtimes != nil && !routesTo(gm.Route, runtimes.at(gm.Upstream).name) {
				t.Fatalf("%s: runtime %d is %s, want %s", where, gm.Upstream, runtimes.at(gm.Upstream).name, gm.Route.Upstream)
			}
			req := newRequest("GET", host, path, gatewayProbe)
			gm, gok = matchOf(got, req)
			wm, wok = matchOf(want, req)
			if gok != wok || gok && !reflect.DeepEqual(*gm.Route, *wm.Route) {
				t.Fatalf("%s: %s%s on the gateway matched %+v %v, Compile's table %+v %v", where, host, path, gm, gok, wm, wok)
			}
			if gok && runtimes != nil && !routesTo(gm.Route, runtimes.at(gm.Upstream).name) {
				t.Fatalf("%s: gateway runtime %d is %s, want %s", where, gm.Upstream, runtimes.at(gm.Upstream).name, gm.Route.Upstream)
			}
		}
	}
}

// routesTo tells whether r sends requests to the upstream called name:
// its Upstream, or one of its Backends.
func routesTo(r *snapshot.Route, name string) bool {
	return r.Upstream == name || slices.ContainsFunc(r.Backends, func(b snapshot.WeightedBackend) bool { return b.Upstream == name })
}

// routesOnly tells whether every upstream r names is one has knows.
func routesOnly(r *snapshot.Route, has func(string) bool) bool {
	return (r.Upstream == "" || has(r.Upstream)) &&
		!slices.ContainsFunc(r.Backends, func(b snapshot.WeightedBackend) bool { return !has(b.Upstream) })
}

// nextSnapshot keeps, replaces or drops each host of prev, adds some, and
// draws its upstreams anew from u0..u5 (so their indexes move).
func nextSnapshot(rng *rand.Rand, prev *snapshot.Snapshot) *snapshot.Snapshot {
	s := &snapshot.Snapshot{}
	shared := prev != nil && rng.IntN(3) == 0
	if shared {
		s.Upstreams = prev.Upstreams // the very list, as the producer shares it
	}
	for u := range 6 {
		if !shared && (u == 0 || rng.IntN(3) != 0) {
			s.Upstreams = append(s.Upstreams, nextUpstream(rng, prev, fmt.Sprintf("u%d", u)))
		}
	}
	pickUp := func() string { return s.Upstreams[rng.IntN(len(s.Upstreams))].Name }
	has := func(name string) bool {
		return slices.ContainsFunc(s.Upstreams, func(u snapshot.Upstream) bool { return u.Name == name })
	}
	hosts := map[string][]snapshot.Route{}
	if prev != nil {
		for _, vh := range prev.Hosts {
			usable := !slices.ContainsFunc(vh.Routes, func(r snapshot.Route) bool { return !routesOnly(&r, has) })
			if usable && rng.IntN(4) != 0 {
				hosts[vh.Name] = vh.Routes // shared, as the producer promises
			}
		}
	}
	for _, name := range []string{"h0", "h1", "h2", "h3", "h4", "*.w", ""} {
		if _, kept := hosts[name]; !kept && rng.IntN(2) == 0 {
			hosts[name] = []snapshot.Route{
				{PathType: snapshot.PathPrefix, Path: "/a", Upstream: pickUp(), Source: "x"},
				{PathType: snapshot.PathExact, Path: "/", Upstream: pickUp(), Source: fmt.Sprint(rng.IntN(9))},
			}
			if rng.IntN(3) == 0 { // split between two upstreams
				r := &hosts[name][0]
				r.Backends = []snapshot.WeightedBackend{{Upstream: r.Upstream, Weight: 2}, {Upstream: pickUp(), Weight: 1 + rng.IntN(2)}}
				r.Upstream = ""
			}
		}
	}
	for name, routes := range hosts {
		s.Hosts = append(s.Hosts, snapshot.VirtualHost{Name: name, Routes: routes})
	}
	slices.SortFunc(s.Hosts, func(a, b snapshot.VirtualHost) int {
		return compareNamed([]snapshot.VirtualHost{a}, []snapshot.VirtualHost{b}, 0, 0, hostName)
	})
	if rng.IntN(2) == 0 {
		s.DefaultBackend = &snapshot.Route{PathType: snapshot.PathPrefix, Path: "/", Upstream: pickUp()}
	}
	s.Gateways = nextGateways(rng, prev, pickUp, has)
	s.Certificates, s.DefaultCertificate = nextCertificates(rng, prev), nextDefaultCertificate(rng, prev)
	return s
}

// gatewayProbe is the address nextGateways' gateway listens on.
const gatewayProbe = "192.0.2.1:80"

// nextGateways keeps prev's very Gateways slice (as the producer shares
// it) when its routes' upstreams are all still there, or draws a gateway
// routing to the new upstreams, or none.
func nextGateways(rng *rand.Rand, prev *snapshot.Snapshot, pickUp func() string, has func(string) bool) []snapshot.Gateway {
	if prev != nil && len(prev.Gateways) > 0 && rng.IntN(2) == 0 && gatewaysUseOnly(prev.Gateways, has) {
		return prev.Gateways
	}
	if rng.IntN(3) == 0 {
		return nil
	}
	hosts := []snapshot.VirtualHost{
		{Name: "*.w", Routes: []snapshot.Route{gwRoute(snapshot.PathPrefix, "/", pickUp())}},
		{Name: "h0", Routes: []snapshot.Route{gwRoute(snapshot.PathPrefix, "/a", pickUp()), gwRoute(snapshot.PathPrefix, "/", pickUp())}},
	}
	gw := snapshot.Gateway{Name: "ns/gw", Addresses: []string{"192.0.2.1"}, Ports: []snapshot.GatewayPort{{Port: 80, Hosts: hosts}}}
	if rng.IntN(2) == 0 {
		gw.Ports = append(gw.Ports, gatewayTLSPort(rng, hosts))
	}
	return []snapshot.Gateway{gw}
}

// gatewaysUseOnly tells whether every route of gws goes to an upstream has
// knows.
func gatewaysUseOnly(gws []snapshot.Gateway, has func(string) bool) bool {
	for _, g := range gws {
		for _, p := range g.Ports {
			for _, vh := range p.Hosts {
				if slices.ContainsFunc(vh.Routes, func(r snapshot.Route) bool { return !has(r.Upstream) }) {
					return false
				}
			}
		}
	}
	return true
}

// nextUpstream is prev's upstream called name, or one with new endpoints.
func nextUpstream(rng *rand.Rand, prev *snapshot.Snapshot, name string) snapshot.Upstream {
	if prev != nil && rng.IntN(2) == 0 {
		for _, u := range prev.Upstreams {
			if u.Name == name {
				return u
			}
		}
	}
	u := snapshot.Upstream{Name: name}
	for e := rng.IntN(3); e > 0; e-- {
		u.Endpoints = append(u.Endpoints, snapshot.Endpoint{Address: fmt.Sprintf("127.0.0.1:%d", 1000+e*10+rng.IntN(3)), Weight: 1})
	}
	return u
}

// checkRuntimes: every upstream of s has one runtime, whose pool has its
// endpoints; the other slots are empty.
func checkRuntimes(t *testing.T, where string, runtimes *slotList, s *snapshot.Snapshot) {
	t.Helper()
	named := 0
	for i := range runtimes.len() {
		u := runtimes.at(i)
		if u == nil {
			continue
		}
		named++
		i := slices.IndexFunc(s.Upstreams, func(su snapshot.Upstream) bool { return su.Name == u.name })
		if i < 0 || u.pool.Name() != u.name || u.pool.Len() != len(s.Upstreams[i].Endpoints) {
			t.Fatalf("%s: runtime %s with pool %s of %d backends is not an upstream of the snapshot as it is", where, u.name, u.pool.Name(), u.pool.Len())
		}
	}
	if named != len(s.Upstreams) {
		t.Fatalf("%s: %d runtimes for %d upstreams", where, named, len(s.Upstreams))
	}
}

// TestSameUpstream: shared slices and equal fields are the same upstream,
// equal contents in new slices too, and any changed field is not.
func TestSameUpstream(t *testing.T) {
	u := snapshot.Upstream{Name: "u", Endpoints: []snapshot.Endpoint{{Address: "127.0.0.1:1", Weight: 1}},
		HealthCheck: &snapshot.HealthCheck{Path: "/h"}, TLS: snapshot.UpstreamTLS{CAPEM: []byte("ca")}}
	same := u
	copied := u
	copied.Endpoints = slices.Clone(u.Endpoints)
	copied.HealthCheck = &snapshot.HealthCheck{Path: "/h"}
	for name, v := range map[string]snapshot.Upstream{"shared": same, "copied": copied} {
		if !sameUpstream(&u, &v) {
			t.Errorf("%s: an equal upstream compared different", name)
		}
	}
	changes := map[string]func(*snapshot.Upstream){
		"retries":   func(v *snapshot.Upstream) { v.Retries = 3 },
		"endpoint":  func(v *snapshot.Upstream) { v.Endpoints = []snapshot.Endpoint{{Address: "127.0.0.1:2", Weight: 1}} },
		"health":    func(v *snapshot.Upstream) { v.HealthCheck = &snapshot.HealthCheck{Path: "/other"} },
		"ca":        func(v *snapshot.Upstream) { v.TLS.CAPEM = []byte("other") },
		"timeouts":  func(v *snapshot.Upstream) { v.Timeouts.Idle = 1 },
		"protocol":  func(v *snapshot.Upstream) { v.Protocol = snapshot.ProtocolH2C },
		"host":      func(v *snapshot.Upstream) { v.HostRewrite = "x" },
		"insecure":  func(v *snapshot.Upstream) { v.TLS.InsecureSkipVerify = true },
		"passive":   func(v *snapshot.Upstream) { v.Passive.ConsecutiveFailures = 9 },
		"headers":   func(v *snapshot.Upstream) { v.RequestHeaders.Remove = []string{"x"} },
		"weighting": func(v *snapshot.Upstream) { v.Policy = snapshot.PolicyWeighted },
	}
	for name, change := range changes {
		v := u
		change(&v)
		if sameUpstream(&u, &v) {
			t.Errorf("%s changed, yet the upstream compared the same", name)
		}
	}
}

// TestCertificatesFollowTheSnapshot: a snapshot sharing the certificate
// list in force keeps it; one with a new list or a new default certificate
// serves those.
func TestCertificatesFollowTheSnapshot(t *testing.T) {
	registry := lb.NewRegistry(lb.RegistryOptions{})
	defer registry.Close()
	r := New(registry, nil)
	one, two := selfSigned(t, "one", "a.example.com"), selfSigned(t, "two", "a.example.com")
	served := func() string {
		c, err := r.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	s1 := &snapshot.Snapshot{Version: 1, Certificates: []snapshot.Certificate{one}}
	s2 := &snapshot.Snapshot{Version: 2, Certificates: s1.Certificates} // shared: kept
	s3 := &snapshot.Snapshot{Version: 3, Certificates: []snapshot.Certificate{two}}
	s4 := &snapshot.Snapshot{Version: 4, Certificates: s3.Certificates, DefaultCertificate: &one}
	for _, step := range []struct {
		s    *snapshot.Snapshot
		want string
	}{{s1, "one"}, {s2, "one"}, {s3, "two"}, {s4, "two"}} {
		if err := r.Apply(step.s); err != nil {
			t.Fatal(err)
		}
		if got := served(); got != step.want {
			t.Fatalf("snapshot %d: served %q, want %q", step.s.Version, got, step.want)
		}
	}
	c, err := r.GetCertificate(&tls.ClientHelloInfo{ServerName: "unknown.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if leaf, _ := x509.ParseCertificate(c.Certificate[0]); leaf.Subject.CommonName != "one" {
		t.Fatalf("the new default certificate is not served: %s", leaf.Subject.CommonName)
	}
}

// TestGatewayCertificatesFollowTheGateways: a snapshot that patches the
// table in force (the same Ingress certificates, Changes since the one in
// force) but has new Gateways serves the new gateways' certificates.
func TestGatewayCertificatesFollowTheGateways(t *testing.T) {
	registry := lb.NewRegistry(lb.RegistryOptions{})
	defer registry.Close()
	r := New(registry, nil)
	gw := func(cert snapshot.Certificate) []snapshot.Gateway {
		return []snapshot.Gateway{{Name: "ns/gw", Addresses: []string{"192.0.2.1"},
			Ports: []snapshot.GatewayPort{{Port: 443, TLS: true, Certificates: []snapshot.Certificate{cert}}}}}
	}
	ingress := []snapshot.Certificate{selfSigned(t, "ingress", "a.example.com")}
	s1 := &snapshot.Snapshot{Version: 1, Certificates: ingress, Gateways: gw(selfSigned(t, "one", "a.example.com"))}
	s2 := &snapshot.Snapshot{Version: 2, Certificates: ingress, Gateways: gw(selfSigned(t, "two", "a.example.com")),
		Changes: &snapshot.Changes{Base: 1}}
	for _, step := range []struct {
		s    *snapshot.Snapshot
		want string
	}{{s1, "one"}, {s2, "two"}} {
		if err := r.Apply(step.s); err != nil {
			t.Fatal(err)
		}
		hello := &tls.ClientHelloInfo{ServerName: "a.example.com",
			Conn: connAt{local: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:443"))}}
		c, err := r.GetCertificate(hello)
		if err != nil {
			t.Fatal(err)
		}
		if leaf, _ := x509.ParseCertificate(c.Certificate[0]); leaf.Subject.CommonName != step.want {
			t.Fatalf("snapshot %d: the gateway served %q, want %q", step.s.Version, leaf.Subject.CommonName, step.want)
		}
	}
}

// TestApplyCostFollowsTheChange: applying a snapshot that differs from the
// one in force in one host allocates about as much with 20,000 hosts as
// with 2,000 (issue 10): the host table in force is patched where the
// host lives, not copied whole.
func TestApplyCostFollowsTheChange(t *testing.T) {
	small, large := oneHostChangeBytes(t, 2000), oneHostChangeBytes(t, 20000)
	allocstest.CheckFlat(t, "one changed host", [2]string{"2,000 hosts", "20,000"}, small, large, 64<<10)
}

// oneHostChangeBytes is what the Apply of one changed host allocates in a
// router serving n hosts (ten per upstream).
func oneHostChangeBytes(t *testing.T, n int) uint64 {
	r, s := scaleRouter(t, n)
	// The next snapshot as the translate Cache makes it: new lists, the
	// unchanged elements shared.
	next := &snapshot.Snapshot{Version: 2, Hosts: slices.Clone(s.Hosts), Upstreams: s.Upstreams}
	next.Hosts[n/2].Routes = []snapshot.Route{prefix("/v2", "u00000")}
	bytes := applyBytes(t, r, next)
	if m, ok := r.current.Load().table.Match(next.Hosts[n/2].Name, "/v2"); !ok || m.Route.Path != "/v2" {
		t.Fatalf("the changed host does not route /v2: %+v %v", m, ok)
	}
	return bytes
}

// applyBytes is what r's Apply of next allocates.
func applyBytes(t *testing.T, r *Router, next *snapshot.Snapshot) uint64 {
	t.Helper()
	return allocstest.Bytes(func() {
		if err := r.Apply(next); err != nil {
			t.Fatal(err)
		}
	})
}

// TestApplyUpstreamChangeCostFollowsTheChange: applying a snapshot that
// differs from the one in force in one upstream's endpoints (an
// EndpointSlice change) allocates about as much with 2,000 upstreams as
// with 200: the new state shares the runtimes of the others instead of
// copying each one.
func TestApplyUpstreamChangeCostFollowsTheChange(t *testing.T) {
	small, large := oneUpstreamChangeBytes(t, 2000), oneUpstreamChangeBytes(t, 20000)
	allocstest.CheckFlat(t, "one changed upstream", [2]string{"200 upstreams", "2,000"}, small, large, 64<<10)
}

// oneUpstreamChangeBytes is what the Apply of one upstream with a new
// endpoint allocates in a router serving n hosts (ten per upstream).
func oneUpstreamChangeBytes(t *testing.T, n int) uint64 {
	r, s := scaleRouter(t, n)
	next := &snapshot.Snapshot{Version: 2, Hosts: s.Hosts, Upstreams: slices.Clone(s.Upstreams)}
	changed := &next.Upstreams[n/20]
	changed.Endpoints = []snapshot.Endpoint{{Address: "127.1.0.1:80", Weight: 1}}
	bytes := applyBytes(t, r, next)
	st := r.current.Load()
	if pool := st.upstreams.at(slotOf(st, changed.Name)).pool; pool.Backends()[0].Addr() != "127.1.0.1:80" {
		t.Fatalf("the changed upstream's pool lists %s", pool.Backends()[0].Addr())
	}
	return bytes
}

// TestApplyUpstreamRemovalCostFollowsTheChange: a Service moved off the
// port its Ingresses name drops their routes and its upstream, and moved
// back brings both again; each Apply allocates about as much with 20,000
// hosts as with 2,000: the upstream's slot is freed and taken again, not
// every upstream numbered anew and every host compared.
func TestApplyUpstreamRemovalCostFollowsTheChange(t *testing.T) {
	small, large := upstreamRemovalBytes(t, 2000), upstreamRemovalBytes(t, 20000)
	for i, step := range []string{"removing", "adding back"} {
		allocstest.CheckFlat(t, step+" an upstream and its hosts", [2]string{"2,000 hosts", "20,000"}, small[i], large[i], 64<<10)
	}
}

// upstreamRemovalBytes is what the Applies of removing an upstream and
// its ten hosts, then adding them back, allocate in a router serving n
// hosts; Changes list them, as the translate Cache does.
func upstreamRemovalBytes(t *testing.T, n int) [2]uint64 {
	r, s := scaleRouter(t, n)
	u, hosts := n/20, n/2 // upstream u serves hosts n/2 to n/2+9
	name := s.Upstreams[u].Name
	changes := &snapshot.Changes{Base: s.Version, Upstreams: []string{name}}
	for _, h := range s.Hosts[hosts : hosts+10] {
		changes.Hosts = append(changes.Hosts, h.Name)
	}
	removed := &snapshot.Snapshot{Version: 2, Changes: changes, Hosts: slices.Delete(slices.Clone(s.Hosts), hosts, hosts+10),
		Upstreams: slices.Delete(slices.Clone(s.Upstreams), u, u+1)}
	var bytes [2]uint64
	bytes[0] = applyBytes(t, r, removed)
	if _, ok := r.current.Load().table.Match(s.Hosts[hosts].Name, "/"); ok || slotOf(r.current.Load(), name) >= 0 {
		t.Fatalf("%s and its hosts are still routed", name)
	}
	back := *s
	back.Version, back.Changes = 3, &snapshot.Changes{Base: 2, Hosts: changes.Hosts, Upstreams: changes.Upstreams}
	bytes[1] = applyBytes(t, r, &back)
	st := r.current.Load()
	if m, ok := st.table.Match(s.Hosts[hosts].Name, "/"); !ok || st.upstreams.at(m.Upstream).name != name {
		t.Fatalf("%s is not routed to %s again", s.Hosts[hosts].Name, name)
	}
	return bytes
}

// TestPeerFilterCostFollowsThePeers: the data plane makes a PeerFilter on
// every Apply to retire idle pooled peers; making it and asking about one
// peer costs about the same among 2,000 upstreams as among 200.
func TestPeerFilterCostFollowsThePeers(t *testing.T) {
	small, large := peerFilterBytes(t, 2000), peerFilterBytes(t, 20000)
	allocstest.CheckFlat(t, "a PeerFilter asked once", [2]string{"200 upstreams", "2,000"}, small, large, 16<<10)
}

func peerFilterBytes(t *testing.T, n int) uint64 {
	r, s := scaleRouter(t, n)
	st := r.current.Load()
	peer := st.upstreams.at(slotOf(st, s.Upstreams[1].Name)).peer
	peer.Address = s.Upstreams[1].Endpoints[0].Address
	return allocstest.Bytes(func() {
		keep := r.PeerFilter()
		if !keep(peer) {
			t.Fatal("the peer of an upstream in force is not kept")
		}
		if peer.Address = "127.0.0.1:1"; keep(peer) {
			t.Fatal("a peer of no upstream is kept")
		}
	})
}

// scaleRouter is a router serving n hosts, ten per upstream of one
// endpoint, and the snapshot it serves.
func scaleRouter(t testing.TB, n int) (*Router, *snapshot.Snapshot) {
	t.Helper()
	r := newTestRouter(t)
	s := &snapshot.Snapshot{Version: 1} // a base that Changes may name
	for u := range n / 10 {
		s.Upstreams = append(s.Upstreams, snapshot.Upstream{Name: fmt.Sprintf("u%05d", u),
			Endpoints: []snapshot.Endpoint{{Address: fmt.Sprintf("127.0.%d.%d:80", u/250, u%250+1), Weight: 1}}})
	}
	for h := range n {
		s.Hosts = append(s.Hosts, host(fmt.Sprintf("h%05d.example", h), prefix("/", fmt.Sprintf("u%05d", h/10))))
	}
	if err := r.Apply(s); err != nil {
		t.Fatal(err)
	}
	return r, s
}
