package translate

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/internal/allocstest"
	"github.com/baton-dev/baton/pkg/internal/racetest"
	"github.com/baton-dev/baton/pkg/lb"
)

// scaleInput is the cluster of issue 10 scaled to n Ingresses: each with
// one host and two paths, one Service (with one slice of 50 endpoints) per
// ten Ingresses, one TLS Secret per hundred.
func scaleInput(n int) Input {
	in := input()
	services := max(n/10, 1)
	for s := 0; s < services; s++ {
		ns := fmt.Sprintf("ns%d", s%10)
		svc := service(ns, fmt.Sprintf("svc%d", s), svcPort("http", 80))
		svc.UID, svc.ResourceVersion = types.UID(svc.Name), "1"
		in.Services = append(in.Services, svc)
		in.EndpointSlices = append(in.EndpointSlices, scaleSlice(ns, s, 0))
		if s%10 == 0 {
			secret := tlsSecret(ns, fmt.Sprintf("tls%d", s))
			secret.UID, secret.ResourceVersion = types.UID(secret.Name), "1"
			in.Secrets = append(in.Secrets, secret)
		}
	}
	for i := 0; i < n; i++ {
		in.Ingresses = append(in.Ingresses, scaleIngress(i, services))
	}
	return in
}

func scaleIngress(i, services int) networkingv1.Ingress {
	s := i % services
	ns, svc := fmt.Sprintf("ns%d", s%10), fmt.Sprintf("svc%d", s)
	host := fmt.Sprintf("h%d.example.com", i)
	opts := []ingressOption{rule(host, prefix("/", backend(svc, 80)), exact("/api/v1", backend(svc, 80)))}
	if i%100 == 0 {
		opts = append(opts, tlsFor(fmt.Sprintf("tls%d", s-s%10), host))
	}
	ing := ingress(ns, fmt.Sprintf("ing%d", i), i, opts...)
	ing.UID = types.UID("uid-" + ing.Name)
	ing.ResourceVersion = "1"
	return ing
}

// scaleSlice has 50 ready endpoints; gen varies their addresses.
func scaleSlice(ns string, s, gen int) discoveryv1.EndpointSlice {
	var eps []discoveryv1.Endpoint
	for e := 0; e < 50; e++ {
		eps = append(eps, readyEP(fmt.Sprintf("10.%d.%d.%d", s/256, s%256, (e+gen)%250+1)))
	}
	sl := endpointSlice(ns, fmt.Sprintf("svc%d", s), fmt.Sprintf("svc%d-abc", s), map[string]int32{"http": 8080}, eps...)
	sl.UID, sl.ResourceVersion = types.UID(sl.Name), fmt.Sprint(gen+1)
	return sl
}

var scaleSizes = []int{1000, 10000, 30000}

// BenchmarkTranslateScale is one full rebuild, translation and route
// compilation, at 1k, 10k and 30k Ingresses.
func BenchmarkTranslateScale(b *testing.B) {
	for _, n := range scaleSizes {
		in := scaleInput(n)
		b.Run(fmt.Sprintf("full-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				out := Translate(in)
				if _, err := router.Compile(out.Snapshot); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIncrementalScale is one rebuild after one change, with a
// Cache warmed by the previous state and told the changed object, as the
// controller tells it (TranslateChanges): an Ingress changed (a path
// renamed), a new Ingress, a TLS Secret rotated, an EndpointSlice
// changed (an endpoint replaced), or a Service moved off the port its
// Ingresses name and back.
func BenchmarkIncrementalScale(b *testing.B) {
	for _, n := range scaleSizes {
		in := scaleInput(n)
		for _, c := range scaleChanges(n) {
			b.Run(fmt.Sprintf("%s-%d", c.name, n), func(b *testing.B) { benchIncremental(b, in, c.change) })
		}
	}
}

// scaleChange makes the i-th change of one kind to a scaleInput(n).
type scaleChange struct {
	name   string
	change func(in *Input, i int) Changes
}

func scaleChanges(n int) []scaleChange {
	pairs := [2][2][]byte{}
	for p := range pairs {
		pairs[p][0], pairs[p][1] = makeCert("h0.example.com")
	}
	return []scaleChange{
		{"ingress", func(in *Input, i int) Changes {
			ing := scaleIngress(n/2, max(n/10, 1))
			ing.Spec.Rules[0].HTTP.Paths[1].Path = fmt.Sprintf("/api/v%d", i+1)
			ing.ResourceVersion = fmt.Sprint(i + 2)
			in.Ingresses[n/2] = ing
			return Changes{Ingresses: map[types.NamespacedName]*networkingv1.Ingress{keyOf(&ing): &ing}}
		}},
		{"new-ingress", func(in *Input, i int) Changes {
			k, ing := addedIngress(n, i)
			return Changes{Ingresses: map[types.NamespacedName]*networkingv1.Ingress{k: ing}}
		}},
		{"secret", func(in *Input, i int) Changes {
			sec := tlsSecret("ns0", "tls0")
			sec.UID, sec.ResourceVersion = types.UID(sec.Name), fmt.Sprint(i+1)
			sec.Data = map[string][]byte{corev1.TLSCertKey: pairs[i%2][0], corev1.TLSPrivateKeyKey: pairs[i%2][1]}
			return Changes{Secrets: map[types.NamespacedName]*corev1.Secret{keyOf(&sec): &sec}}
		}},
		{"slice", func(in *Input, i int) Changes {
			s := len(in.Services) / 2
			sl := scaleSlice(fmt.Sprintf("ns%d", s%10), s, i+1)
			in.EndpointSlices[s] = sl
			return Changes{EndpointSlices: map[types.NamespacedName]*discoveryv1.EndpointSlice{keyOf(&sl): &sl}}
		}},
		{"service-port", func(in *Input, i int) Changes {
			// Off the port its Ingresses name, which drops their routes
			// and its upstream, and back on the next step.
			s := len(in.Services) / 2
			port := int32(80)
			if i%2 == 1 {
				port = 81
			}
			svc := service(fmt.Sprintf("ns%d", s%10), fmt.Sprintf("svc%d", s), svcPort("http", port))
			svc.UID, svc.ResourceVersion = types.UID(svc.Name), fmt.Sprint(i+1)
			in.Services[s] = svc
			return Changes{Services: map[types.NamespacedName]*corev1.Service{keyOf(&svc): &svc}}
		}},
	}
}

// TestChangeCostFollowsTheChange: translating one change allocates about
// as much among 20,000 Ingresses as among 2,000, for every kind of
// change. Copying the snapshot's sorted hosts and upstreams and the
// results list on every change made it 1.2 MB vs 0.1 MB for a changed
// Ingress, and every byte allocated costs garbage collection in
// proportion to the live heap, which grows with the cluster.
func TestChangeCostFollowsTheChange(t *testing.T) {
	if racetest.Enabled || testing.Short() {
		t.Skip("the race detector changes what allocations cost; 20,000 Ingresses take a while")
	}
	small, large := changeBytes(t, 2000), changeBytes(t, 20000)
	for kind := range small {
		allocstest.CheckFlat(t, "one "+kind+" change", [2]string{"2,000 Ingresses", "20,000"}, small[kind], large[kind], 16<<10)
	}
}

// changeBytes is what translating one change allocates, by kind of
// change, in a Cache holding scaleInput(n): the least of a few, to leave
// out what a map growing now and then costs.
func changeBytes(t *testing.T, n int) map[string]uint64 {
	in := scaleInput(n)
	cache := NewCache()
	cache.Translate(in)
	bytes := map[string]uint64{}
	for _, c := range scaleChanges(n) {
		for i := range 6 {
			ch := c.change(&in, i+1)
			b := allocstest.Bytes(func() { cache.TranslateChanges(in, ch) })
			if i > 1 && (bytes[c.name] == 0 || b < bytes[c.name]) {
				bytes[c.name] = b
			}
		}
		t.Logf("%d Ingresses, one %s change: %d KiB", n, c.name, bytes[c.name]>>10)
	}
	return bytes
}

// addedIngress is the change of the i-th step of "new Ingress": one more
// Ingress with a host of its own, which the next step deletes (nil), so
// that the cluster keeps its size.
func addedIngress(n, i int) (types.NamespacedName, *networkingv1.Ingress) {
	ing := scaleIngress(n+1, max(n/10, 1))
	if i%2 == 0 {
		return keyOf(&ing), nil
	}
	ing.ResourceVersion = fmt.Sprint(i + 1)
	return keyOf(&ing), &ing
}

// benchIncremental applies each result to a Router, as the data plane
// does: compiling the table, certificates and pools, and asking which
// pooled peers to keep. apply-B/op is the Router's share of B/op.
func benchIncremental(b *testing.B, in Input, change func(*Input, int) Changes) {
	in.Ingresses = slices.Clone(in.Ingresses)
	in.EndpointSlices = slices.Clone(in.EndpointSlices)
	in.Services = slices.Clone(in.Services)
	cache := NewCache()
	registry := lb.NewRegistry(lb.RegistryOptions{})
	defer registry.Close()
	r := router.New(registry, nil)
	first := cache.Translate(in).Snapshot
	first.Version = 1 // a version the next snapshot's Changes can name, as the controller numbers them
	if err := r.Apply(first); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	i, applyBytes := 0, uint64(0)
	defer func() { b.ReportMetric(float64(applyBytes)/float64(b.N), "apply-B/op") }()
	for b.Loop() {
		i++
		s := cache.TranslateChanges(in, change(&in, i)).Snapshot
		s.Version = uint64(i + 1)
		applyBytes += allocstest.Bytes(func() {
			if err := r.Apply(s); err != nil {
				b.Fatal(err)
			}
		})
		// The data plane then retires idle pooled peers the snapshot no
		// longer sends to, through a filter made per Apply.
		r.PeerFilter()(proxy.Peer{})
	}
}

// reportCPU reports the process's CPU time per operation, garbage
// collection included: on a shared machine wall time says more about the
// neighbours than about the code.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
