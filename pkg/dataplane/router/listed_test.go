package router

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
	"github.com/baton-dev/baton/pkg/lb"
)

// TestApplyListedChangesEqualsFullApply applies a random sequence of
// snapshots that say what changed (snapshot.Changes, listing now and then
// names that did not change or that neither snapshot has, or naming a
// base that is not the one in force), some with a listed host routing to
// an unknown upstream, or with an unlisted host of the snapshot before
// kept though it routes to an upstream that is removed. After every Apply the router must be in the state a
// fresh router reaches by applying the snapshot in full: the same
// matches, the same runtimes and pools; a refused snapshot must be refused
// by the fresh router too and leave the state in force alone. Upstreams
// the snapshot did not change keep their pool. Some snapshots are built
// but never applied, as when the producer's Apply failed: the next one's
// base is then not the snapshot in force. Upstreams come and go (see
// nextSnapshot), so removed ones leave free slots that added ones take:
// a route left on a freed slot, a slot not freed or a name left in the
// index shows as a match or runtime a full apply does not have.
func TestApplyListedChangesEqualsFullApply(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	r := newTestRouter(t)
	var prev, applied *snapshot.Snapshot
	listed, removed, dangling := 0, 0, 0
	for step := range 400 {
		where := fmt.Sprintf("seed %d step %d", seed, step)
		s := nextSnapshot(rng, prev)
		s.Version = uint64(step + 1)
		dangles := prev != nil && rng.IntN(8) == 0 && keepDanglingHost(s, prev)
		if dangles {
			dangling++
		}
		if prev != nil {
			s.Changes = changesOf(rng, prev, s)
		}
		if rng.IntN(12) == 0 {
			prev = s // built but never applied: the next one's base is not in force
			continue
		}
		bad := rng.IntN(12) == 0 && breakListedHost(s) || dangles
		before := r.current.Load()
		flat := s
		if rng.IntN(2) == 0 { // as the translate Cache hands them out
			s = inListForm(s, prev, applied)
		}

		err := r.Apply(s)
		fresh, freshErr := fullApply(s)
		if (err != nil) != (freshErr != nil) || err != nil != bad {
			t.Fatalf("%s: Apply said %v, a full apply %v (broken on purpose: %v)", where, err, freshErr, bad)
		}
		prev = flat // refused or not, the producer's next Changes are since s
		if err != nil {
			if r.current.Load() != before {
				t.Fatalf("%s: a refused snapshot changed the state in force", where)
			}
			continue
		}
		if r.reuse.listed != nil {
			listed++
			if len(r.reuse.listed.removed) > 0 {
				removed++
			}
		}

		sameState(t, where, r.current.Load(), fresh, flat)
		samePairs(t, where, r, flat)
		keptPools(t, where, before, r.current.Load(), applied, s)
		applied = s
	}
	if r.keyPairs.patches < 40 {
		t.Fatalf("seed %d: only %d of 400 Applies patched the certificates in force", seed, r.keyPairs.patches)
	}
	if listed < 40 || removed < 10 || dangling < 5 {
		t.Fatalf("seed %d: only %d of 400 Applies compiled what Changes listed, %d of them removing an upstream; %d kept a host routing to a removed one",
			seed, listed, removed, dangling)
	}
	t.Logf("seed %d: %d Applies of what Changes listed, %d removing an upstream; %d hosts left routing to a removed one", seed, listed, removed, dangling)
}

// keepDanglingHost puts back into s a host of prev that s dropped and
// that routes to an upstream s no longer has, with the very Routes slice
// it had: unchanged, so a producer need not list it, but s is refused as
// any snapshot routing to an unknown upstream. False if prev has none.
func keepDanglingHost(s, prev *snapshot.Snapshot) bool {
	for _, vh := range prev.Hosts {
		if _, ok, _ := s.FindHost(vh.Name); ok || !slices.ContainsFunc(vh.Routes, func(r snapshot.Route) bool {
			return !routesOnly(&r, func(name string) bool { return s.Upstream(name) != nil })
		}) {
			continue
		}
		at, _ := slices.BinarySearchFunc(s.Hosts, vh.Name, func(h snapshot.VirtualHost, name string) int { return strings.Compare(h.Name, name) })
		s.Hosts = slices.Insert(s.Hosts, at, vh)
		return true
	}
	return false
}

// changesOf lists what differs between prev and s, as a producer must,
// and now and then more, in any order, or names a base not in force.
func changesOf(rng *rand.Rand, prev, s *snapshot.Snapshot) *snapshot.Changes {
	ch := &snapshot.Changes{Base: prev.Version}
	for _, name := range []string{"h0", "h1", "h2", "h3", "h4", "*.w", "", "absent"} {
		a, inPrev, _ := prev.FindHost(name)
		b, inNext, _ := s.FindHost(name)
		if inPrev != inNext || inPrev && !sameRoutes(a.Routes, b.Routes) || rng.IntN(8) == 0 {
			ch.Hosts = append(ch.Hosts, name)
		}
	}
	for u := range 7 {
		name := fmt.Sprintf("u%d", u)
		a, inPrev, _ := prev.FindUpstream(name)
		b, inNext, _ := s.FindUpstream(name)
		if inPrev != inNext || inPrev && !reflect.DeepEqual(a, b) || rng.IntN(8) == 0 {
			ch.Upstreams = append(ch.Upstreams, name)
		}
	}
	rng.Shuffle(len(ch.Hosts), func(i, j int) { ch.Hosts[i], ch.Hosts[j] = ch.Hosts[j], ch.Hosts[i] })
	if len(ch.Hosts) > 0 && rng.IntN(4) == 0 {
		ch.Hosts = append(ch.Hosts, ch.Hosts[0]) // listed twice
	}
	switch rng.IntN(12) {
	case 0:
		ch.Base += 1000 // a base the router never held
	case 1:
		ch.Base = 0
	}
	return ch
}

// breakListedHost makes a host that Changes lists route to an upstream
// that does not exist, in a new Routes slice; false if none is listed.
func breakListedHost(s *snapshot.Snapshot) bool {
	if s.Changes == nil {
		return false
	}
	for _, name := range s.Changes.Hosts {
		if vh, ok, _ := s.FindHost(name); ok {
			vh.Routes = append(slices.Clone(vh.Routes), snapshot.Route{PathType: snapshot.PathPrefix, Path: "/broken", Upstream: "missing"})
			return true
		}
	}
	return false
}

// inListForm is s with its hosts and upstreams as lists; when s shares
// prevFlat's upstream slice, and applied was prevFlat in list form, s
// shares applied's very upstream list, as a producer would.
func inListForm(s, prevFlat, applied *snapshot.Snapshot) *snapshot.Snapshot {
	l := snapshottest.WithLists(s)
	if prevFlat != nil && applied != nil && s.SameUpstreams(prevFlat) && applied.Upstreams == nil && applied.Version == prevFlat.Version {
		l.SetUpstreamList(applied.UpstreamList())
	}
	return l
}

// fullApply is the state a fresh router reaches with s, its Changes
// ignored.
func fullApply(s *snapshot.Snapshot) (*state, error) {
	registry := lb.NewRegistry(lb.RegistryOptions{})
	defer registry.Close()
	whole := *s
	whole.Changes = nil
	r := New(registry, nil)
	if err := r.Apply(&whole); err != nil {
		return nil, err
	}
	return r.current.Load(), nil
}

// sameState: got routes every probe as want does, to a runtime equal to
// want's, whose pool lists the same backends.
func sameState(t *testing.T, where string, got, want *state, s *snapshot.Snapshot) {
	t.Helper()
	checkRuntimes(t, where, &got.upstreams, s)
	sameMatches(t, where, got.table, want.table, &got.upstreams)
	sameCertificates(t, where, got.certs, want.certs)
	if g, w := splitNames(got.table), splitNames(want.table); !slices.Equal(g, w) {
		t.Fatalf("%s: the table keeps the splitters of %q, a full apply %q", where, g, w)
	}
	if got.byName.len() != want.byName.len() {
		t.Fatalf("%s: %d upstreams by name, a full apply %d", where, got.byName.len(), want.byName.len())
	}
	for name, i := range want.byName.all() {
		slot := slotOf(got, name)
		if slot < 0 || slot >= got.upstreams.len() || got.upstreams.at(slot) == nil {
			t.Fatalf("%s: upstream %s has no runtime (slot %d)", where, name, slot)
		}
		g, w := got.upstreams.at(slot), want.upstreams.at(i)
		gotRT, wantRT := *g, *w
		gotRT.pool, wantRT.pool = nil, nil
		if !reflect.DeepEqual(gotRT, wantRT) || !slices.Equal(addrs(g.pool), addrs(w.pool)) {
			t.Fatalf("%s: upstream %s is %+v with %v, a full apply's %+v with %v", where, name, gotRT, addrs(g.pool), wantRT, addrs(w.pool))
		}
	}
}

// keptPools: an upstream equal in prev and s keeps the very pool it had.
func keptPools(t *testing.T, where string, before, after *state, prev, s *snapshot.Snapshot) {
	t.Helper()
	if prev == nil {
		return
	}
	for _, u := range s.AllUpstreams() {
		p, ok, _ := prev.FindUpstream(u.Name)
		if !ok || !reflect.DeepEqual(p, u) {
			continue
		}
		if a, b := after.upstreams.at(slotOf(after, u.Name)).pool, before.upstreams.at(slotOf(before, u.Name)).pool; a != b {
			t.Fatalf("%s: upstream %s did not change but got a new pool", where, u.Name)
		}
	}
}

// splitNames names t's splitters, group and key, sorted.
func splitNames(t *Table) []string {
	var out []string
	for group, splits := range t.splitters.all() {
		for key := range splits {
			out = append(out, group+" "+key)
		}
	}
	slices.Sort(out)
	return out
}

func addrs(p *lb.Pool) []string {
	var out []string
	for _, b := range p.Backends() {
		out = append(out, b.Addr())
	}
	return out
}
