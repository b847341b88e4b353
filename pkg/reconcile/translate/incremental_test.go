package translate

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot/snapshottest"
)

// FuzzIncremental translates a random sequence of worlds, each one the
// previous with some objects added, changed or deleted, with one Cache
// carried across the sequence, and checks that every output equals a
// full Translate of the same input.
func FuzzIncremental(f *testing.F) {
	f.Add([]byte("baton translates ingresses into snapshots, one change at a time"))
	for _, seed := range boundarySeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkIncremental(t, &gen{data: data}, 6)
	})
}

// TestIncrementalEqualsFull is FuzzIncremental over pseudo-random bytes,
// so that every test run tries new sequences.
func TestIncrementalEqualsFull(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	for run := 0; run < 200; run++ {
		data := make([]byte, 4096)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("seed %d run %d", seed, run)
				}
			}()
			checkIncremental(t, &gen{data: data}, 12)
		})
	}
}

func checkIncremental(t *testing.T, g *gen, steps int) {
	t.Helper()
	cache := NewCache()
	world, _ := g.input()
	var prevGot, prevWant Output
	var built *snapshot.Snapshot // the last snapshot the cache built, with its Changes
	var builtFlat *snapshot.Snapshot
	var results IngressResults // and its results
	var resultsFlat []IngressResult
	for step := 0; step < steps; step++ {
		if step > 0 {
			next, _ := g.input()
			world = g.evolve(world, next)
		}
		stampVersions(&world)
		want := Translate(world)
		got := cache.Translate(world)
		where := fmt.Sprintf("step %d", step)
		prevBuilt := built
		// The data plane may still hold the last snapshot: its lists
		// must be as they were when it was built.
		if prevBuilt != nil && !reflect.DeepEqual(snapshottest.Flat(prevBuilt), builtFlat) {
			mustEqualJSON(t, where+": the previous snapshot", snapshottest.Flat(prevBuilt), builtFlat)
			t.Fatalf("%s: the previous snapshot changed (not in JSON)", where)
		}
		if step > 0 && !reflect.DeepEqual(results.Slice(), resultsFlat) {
			mustEqualJSON(t, where+": the previous results", results.Slice(), resultsFlat)
			t.Fatalf("%s: the previous results changed (not in JSON)", where)
		}
		built, results = got.Snapshot, got.Ingresses
		got = stampedWithoutChanges(t, where, prevBuilt, got, uint64(step+1))
		builtFlat, resultsFlat = snapshottest.Flat(built), results.Slice()
		want.Snapshot.Version = got.Snapshot.Version
		if !reflect.DeepEqual(got, want) {
			mustEqualJSON(t, fmt.Sprintf("step %d: incremental output", step), got, want)
			t.Fatalf("step %d: incremental output differs from a full translation (not in JSON)", step)
		}
		// The caller may still hold the last output: the Cache must not
		// have patched it in place.
		if step > 0 && !reflect.DeepEqual(prevGot, prevWant) {
			mustEqualJSON(t, fmt.Sprintf("step %d: the previous output", step), prevGot, prevWant)
			t.Fatalf("step %d: the previous output changed (not in JSON)", step)
		}
		prevGot, prevWant = got, want
		world.LastGoodCertificates = want.GoodCertificates
	}
}

// evolve returns old with each object kept, replaced by next's object of
// the same key, or deleted, and next's new objects added or not.
func (g *gen) evolve(old, next Input) Input {
	out := old
	out.Ingresses = evolveObjects(g, old.Ingresses, next.Ingresses)
	out.Services = evolveObjects(g, old.Services, next.Services)
	out.EndpointSlices = evolveObjects(g, old.EndpointSlices, next.EndpointSlices)
	out.Secrets = evolveObjects(g, old.Secrets, next.Secrets)
	out.Upstreams = evolveObjects(g, old.Upstreams, next.Upstreams)
	if g.n(4) == 0 {
		out.IngressClasses, out.DefaultTLSSecret = next.IngressClasses, next.DefaultTLSSecret
	}
	if g.n(4) == 0 {
		out.AllowLoopbackEndpoints = !out.AllowLoopbackEndpoints
	}
	return out
}

func evolveObjects[T any, P object[T]](g *gen, old, next []T) []T {
	byKey := map[types.NamespacedName][2]P{}
	for i := range old {
		k := keyOf(P(&old[i]))
		byKey[k] = [2]P{P(&old[i]), byKey[k][1]}
	}
	for i := range next {
		k := keyOf(P(&next[i]))
		byKey[k] = [2]P{byKey[k][0], P(&next[i])}
	}
	keys := make([]types.NamespacedName, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	var out []T
	for _, k := range keys {
		// Mostly unchanged, as in a cluster: that is what the cache reuses.
		if p := byKey[k][min(g.n(5), 2)%2]; p != nil && g.n(6) != 0 {
			out = append(out, *p)
		}
	}
	return out
}

// stampVersions gives every object a UID by key and a resourceVersion by
// content, which is what the API server guarantees: the same version is
// the same content.
func stampVersions(in *Input) {
	stampAll(in.Ingresses)
	stampAll(in.Services)
	stampAll(in.EndpointSlices)
	stampAll(in.Secrets)
	stampAll(in.Upstreams)
}

func stampAll[T any, P object[T]](items []T) {
	for i := range items {
		p := P(&items[i])
		p.SetResourceVersion("")
		p.SetUID(types.UID("uid-" + keyOf(p).String()))
		b, err := json.Marshal(p)
		if err != nil {
			panic(err)
		}
		p.SetResourceVersion(fmt.Sprintf("%x", sha256.Sum256(b))[:16])
	}
}
