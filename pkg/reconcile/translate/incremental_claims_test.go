package translate

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// TestIncrementalSharedClaims is TestIncrementalEqualsFull on a world made
// for the Cache's grouping: every host, path and Secret comes from a small
// pool, so Ingresses keep competing for hosts, paths, TLS hosts and the
// catch-all, and each step makes one change of the kinds the Cache handles
// apart (an Ingress added, changed or deleted, an endpoint added or
// removed, a Service port changed, a TLS Secret rotated or deleted, an
// Upstream weight changed), as a cluster does between two rebuilds.
func TestIncrementalSharedClaims(t *testing.T) {
	seed := rand.Uint64()
	for run := 0; run < 100; run++ {
		w := &claimsWorld{rng: rand.New(rand.NewPCG(seed, uint64(run)))}
		in := w.initial()
		cache, fed := NewCache(), NewCache()
		var prev Input
		var built, fedBuilt *snapshot.Snapshot // the last snapshots the caches built
		for step := 0; step < 40; step++ {
			if step > 0 {
				w.change(&in)
			}
			stampVersions(&in)
			where := fmt.Sprintf("seed %d run %d step %d", seed, run, step)
			want := Translate(in)
			got := cache.Translate(in)
			got, built = stampedWithoutChanges(t, where, built, got, uint64(step+1)), got.Snapshot
			want.Snapshot.Version = got.Snapshot.Version
			if step == 0 {
				fedBuilt = fed.Translate(in).Snapshot
				fedBuilt.Version = uint64(step + 1)
			} else {
				viaChanges := fed.TranslateChanges(in, changesBetween(prev, in))
				viaChanges, fedBuilt = stampedWithoutChanges(t, where+" fed as Changes", fedBuilt, viaChanges, uint64(step+1)), viaChanges.Snapshot
				if wantFed := withVersion(want, viaChanges.Snapshot.Version); !reflect.DeepEqual(viaChanges, wantFed) {
					got, want = viaChanges, wantFed
					w.last += ", fed as Changes"
				}
			}
			prev = in // with its own lists: change edits them in place
			prev.Ingresses, prev.Services, prev.EndpointSlices = slices.Clone(in.Ingresses), slices.Clone(in.Services), slices.Clone(in.EndpointSlices)
			prev.Secrets, prev.Upstreams = slices.Clone(in.Secrets), slices.Clone(in.Upstreams)
			if !reflect.DeepEqual(got, want) {
				what := fmt.Sprintf("seed %d run %d step %d (%s)", seed, run, step, w.last)
				mustEqualJSON(t, what+": snapshot", got.Snapshot, want.Snapshot)
				mustEqualJSON(t, what+": results", got.Ingresses.Slice(), want.Ingresses.Slice())
				t.Fatalf("seed %d run %d step %d (%s): differs, not in JSON", seed, run, step, w.last)
			}
			in.LastGoodCertificates = want.GoodCertificates
		}
	}
}

type claimsWorld struct {
	rng  *rand.Rand
	last string // the last change, for failure messages
}

var (
	claimHosts = []string{"a.com", "b.com", "*.a.com", "x.a.com", ""}
	claimPaths = []string{"/", "/api", "/x"}
	claimNS    = []string{"n1", "n2"}
)

func (w *claimsWorld) pick(pool []string) string { return pool[w.rng.IntN(len(pool))] }

func (w *claimsWorld) initial() Input {
	in := input()
	for _, ns := range claimNS {
		for _, s := range []string{"s1", "s2"} {
			in.Services = append(in.Services, service(ns, s, svcPort("http", 80)))
			in.EndpointSlices = append(in.EndpointSlices, endpointSlice(ns, s, s+"-a", map[string]int32{"http": 8080}, readyEP("10.0.0.1")))
		}
		for _, s := range []string{"t1", "t2"} {
			in.Secrets = append(in.Secrets, tlsSecret(ns, s))
		}
		in.Upstreams = append(in.Upstreams, upstream(ns, "u1", static(staticEP("10.1.0.1", 80, 1), staticEP("10.1.0.2", 80, 1))))
	}
	for i := 0; i < 8; i++ {
		in.Ingresses = append(in.Ingresses, w.ingress(i))
	}
	return in
}

// ingress draws Ingress i: rules on pooled hosts, sometimes a
// defaultBackend, sometimes TLS, sometimes no rules at all.
func (w *claimsWorld) ingress(i int) networkingv1.Ingress {
	var opts []ingressOption
	for r := w.rng.IntN(3); r > 0; r-- {
		opts = append(opts, rule(w.pick(claimHosts), w.path(), w.path()))
	}
	if w.rng.IntN(3) == 0 {
		opts = append(opts, defaultBackend(w.backend()))
	}
	if w.rng.IntN(2) == 0 {
		opts = append(opts, tlsFor(w.pick([]string{"t1", "t2", "missing"}), w.pick(claimHosts[:4])))
	}
	if w.rng.IntN(3) == 0 { // a Service the Ingress reads only through its canary annotation
		opts = append(opts, annotation(AnnotationCanary, fmt.Sprintf(`{"service":%q,"port":80,"weight":%d}`,
			w.pick([]string{"s2", "s3"}), w.rng.IntN(101))))
	}
	return ingress(claimNS[i%2], fmt.Sprintf("i%d", i), w.rng.IntN(4), opts...)
}

func (w *claimsWorld) path() networkingv1.HTTPIngressPath {
	if w.rng.IntN(2) == 0 {
		return exact(w.pick(claimPaths), w.backend())
	}
	return prefix(w.pick(claimPaths), w.backend())
}

func (w *claimsWorld) backend() networkingv1.IngressBackend {
	switch w.rng.IntN(4) {
	case 0:
		return upstreamBackend("u1")
	case 1:
		return backend("s2", 80)
	}
	return backend("s1", 80)
}

// change makes one change of a random kind.
func (w *claimsWorld) change(in *Input) {
	switch w.rng.IntN(7) {
	case 0:
		w.changeIngress(in)
	case 1:
		i := w.rng.IntN(len(in.EndpointSlices))
		s := &in.EndpointSlices[i]
		s.Endpoints = append([]discoveryv1.Endpoint(nil), s.Endpoints...)
		if n := len(s.Endpoints); n > 0 && w.rng.IntN(2) == 0 {
			s.Endpoints = s.Endpoints[:n-1]
			w.last = "endpoint removed from " + s.Name
		} else {
			s.Endpoints = append(s.Endpoints, readyEP(fmt.Sprintf("10.0.0.%d", 2+w.rng.IntN(50))))
			w.last = "endpoint added to " + s.Name
		}
	case 2:
		i := w.rng.IntN(len(in.Services))
		in.Services[i].Spec.Ports = []corev1.ServicePort{svcPort("http", int32(80+w.rng.IntN(2)))}
		w.last = "port of Service " + in.Services[i].Name
	case 3:
		i := w.rng.IntN(len(in.Secrets))
		s := &in.Secrets[i]
		s.Data = map[string][]byte{corev1.TLSCertKey: [][]byte{certPEM, otherCertPEM}[w.rng.IntN(2)], corev1.TLSPrivateKeyKey: keyPEM}
		w.last = "Secret rotated " + s.Name
	case 4:
		i := w.rng.IntN(len(in.Secrets))
		w.last = "Secret deleted " + in.Secrets[i].Name
		in.Secrets = append(in.Secrets[:i:i], in.Secrets[i+1:]...)
		if len(in.Secrets) == 0 {
			in.Secrets = append(in.Secrets, tlsSecret("n1", "t1"))
		}
	case 5:
		i := w.rng.IntN(len(in.Upstreams))
		u := &in.Upstreams[i]
		u.Spec = static(staticEP("10.1.0.1", 80, int32(1+w.rng.IntN(3))), staticEP("10.1.0.2", 80, 1))
		w.last = "Upstream weight " + u.Name
	default:
		in.IngressClasses[0].Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: fmt.Sprint(w.rng.IntN(2) == 0)}
		w.last = "IngressClass default flag"
	}
}

// changeIngress adds, replaces or deletes one Ingress.
func (w *claimsWorld) changeIngress(in *Input) {
	i := w.rng.IntN(len(in.Ingresses) + 1)
	switch {
	case i == len(in.Ingresses):
		n := 8
		for slices.ContainsFunc(in.Ingresses, func(ing networkingv1.Ingress) bool { return ing.Name == fmt.Sprintf("i%d", n) }) {
			n++ // a name not in use in either namespace
		}
		in.Ingresses = append(in.Ingresses[:i:i], w.ingress(n))
		w.last = "Ingress added " + in.Ingresses[i].Name
	case w.rng.IntN(3) == 0:
		w.last = "Ingress deleted " + in.Ingresses[i].Name
		in.Ingresses = append(in.Ingresses[:i:i], in.Ingresses[i+1:]...)
	default:
		next := w.ingress(0)
		next.Namespace, next.Name = in.Ingresses[i].Namespace, in.Ingresses[i].Name
		in.Ingresses = append([]networkingv1.Ingress(nil), in.Ingresses...)
		in.Ingresses[i] = next
		w.last = "Ingress changed " + next.Name
	}
}

// changesBetween lists what an informer would report between two inputs.
func changesBetween(old, next Input) Changes {
	return Changes{
		Ingresses:      changedObjects(old.Ingresses, next.Ingresses),
		Services:       changedObjects(old.Services, next.Services),
		EndpointSlices: changedObjects(old.EndpointSlices, next.EndpointSlices),
		Secrets:        changedObjects(old.Secrets, next.Secrets),
		Upstreams:      changedObjects(old.Upstreams, next.Upstreams),
	}
}

func changedObjects[T any, P object[T]](old, next []T) map[types.NamespacedName]P {
	out := map[types.NamespacedName]P{}
	was := map[types.NamespacedName]P{}
	for i := range old {
		was[keyOf(P(&old[i]))] = P(&old[i])
	}
	for i := range next {
		p := P(&next[i])
		k := keyOf(p)
		if o, ok := was[k]; !ok || o.GetResourceVersion() != p.GetResourceVersion() {
			out[k] = p
		}
		delete(was, k)
	}
	for k := range was {
		out[k] = nil
	}
	return out
}

// withVersion is out with a copy of its snapshot of the given version.
func withVersion(out Output, version uint64) Output {
	s := *out.Snapshot
	s.Version = version
	out.Snapshot = &s
	return out
}
