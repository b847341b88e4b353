package router

import (
	"fmt"
	"slices"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// BenchmarkApplyOneChange is the Apply of a snapshot that differs from the
// one in force in one host's routes, or in one upstream's endpoints, as
// the translate Cache makes it (new lists sharing the unchanged elements,
// and Changes saying which), among 1,000 to 30,000 hosts (ten per
// upstream).
func BenchmarkApplyOneChange(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		b.Run(fmt.Sprintf("host-%d", n), func(b *testing.B) {
			benchApplyOne(b, n, func(next *snapshot.Snapshot, i int) {
				h := &next.Hosts[n/2]
				h.Routes = []snapshot.Route{prefix(fmt.Sprintf("/v%d", i), h.Routes[0].Upstream)}
				next.Changes.Hosts = []string{h.Name}
			})
		})
		b.Run(fmt.Sprintf("upstream-%d", n), func(b *testing.B) {
			benchApplyOne(b, n, func(next *snapshot.Snapshot, i int) {
				u := &next.Upstreams[n/20]
				u.Endpoints = []snapshot.Endpoint{{Address: fmt.Sprintf("127.1.%d.%d:80", i/250%250, i%250+1), Weight: 1}}
				next.Changes.Upstreams = []string{u.Name}
			})
		})
	}
}

func benchApplyOne(b *testing.B, n int, change func(*snapshot.Snapshot, int)) {
	r, s := scaleRouter(b, n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		b.StopTimer()
		next := &snapshot.Snapshot{Version: s.Version + 1, Hosts: slices.Clone(s.Hosts), Upstreams: slices.Clone(s.Upstreams),
			Changes: &snapshot.Changes{Base: s.Version}}
		change(next, i)
		b.StartTimer()
		if err := r.Apply(next); err != nil {
			b.Fatal(err)
		}
		s = next
	}
}
