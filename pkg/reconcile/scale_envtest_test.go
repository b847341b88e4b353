//go:build envtest

package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// TestMeasureScale loads BATON_SCALE_INGRESSES Ingresses (two paths each)
// and a tenth as many Services with a slice of 50 endpoints, starts the
// controller, then measures API write → snapshot applied for new
// Ingresses and for EndpointSlice changes. It asserts nothing about speed
// and is skipped unless the variable is set; hack/bench.sh runs it.
func TestMeasureScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BATON_SCALE_INGRESSES"))
	if n <= 0 {
		t.Skip("set BATON_SCALE_INGRESSES to run")
	}
	var e *env
	loaded := time.Duration(0)
	e = newEnv(t, envOptions{beforeRun: func(en *env) {
		start := time.Now()
		loadScale(en, n)
		loaded = time.Since(start)
	}})
	started := time.Now()
	if err := e.controller.WaitReady(e.ctx); err != nil {
		t.Fatal(err)
	}
	ready := time.Since(started)
	const changes = 20
	var newIngress, sliceChange []time.Duration
	for i := range changes {
		host := fmt.Sprintf("new%d.example.com", i)
		ing := e.ingress(fmt.Sprintf("new%d", i), e.class, host, "/", "svc0", 80)
		e.create(ing)
		written := time.Now()
		_, at := e.sink.waitFor(t, "with "+host, func(s *snapshot.Snapshot) bool { return findHost(s, host) != nil })
		newIngress = append(newIngress, at.Sub(written))
	}
	slice := &discoveryv1.EndpointSlice{}
	if err := e.client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "svc1-0"}, slice); err != nil {
		t.Fatal(err)
	}
	upstream := "service/" + e.ns + "/svc1/80"
	for i := range changes {
		addr := fmt.Sprintf("10.250.0.%d", i+1)
		update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, append(scaleAddrs(1)[1:], addr)) })
		written := time.Now()
		_, at := e.sink.waitFor(t, "with "+addr, func(s *snapshot.Snapshot) bool {
			return slices.Contains(endpointsOf(s, upstream), addr+":8080")
		})
		sliceChange = append(sliceChange, at.Sub(written))
	}
	runtime.GC()
	t.Logf("scale ingresses=%d services=%d load=%v start-to-ready=%v new-ingress p50=%s p99=%s slice-change p50=%s p99=%s rss=%s",
		n, n/10, loaded.Round(time.Millisecond), ready.Round(time.Millisecond),
		pct(newIngress, 50), pct(newIngress, 99), pct(sliceChange, 50), pct(sliceChange, 99), rss())
}

func pct(ds []time.Duration, p int) string {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return fmt.Sprintf("%.1fms", float64(percentile(ds, p).Microseconds())/1000)
}

func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}

func scaleAddrs(s int) []string {
	var addrs []string
	for i := range 50 {
		addrs = append(addrs, fmt.Sprintf("10.%d.%d.%d", 1+s/250, s%250, i+1))
	}
	return addrs
}

// loadScale creates the objects with a few writers in parallel.
func loadScale(e *env, n int) {
	services := max(n/10, 2)
	jobs := make(chan client.Object, 64)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for obj := range jobs {
				if err := e.client.Create(context.Background(), obj); err != nil {
					e.t.Errorf("create %s: %v", obj.GetName(), err)
				}
			}
		}()
	}
	for s := range services {
		name := fmt.Sprintf("svc%d", s)
		svc := e.service(name, 80, "http")
		svc.Spec.ClusterIP = corev1.ClusterIPNone // envtest's service range holds about 250
		jobs <- svc
		jobs <- e.endpointSlice(name+"-0", name, "http", 8080, scaleAddrs(s))
	}
	for i := range n {
		ing := e.ingress(fmt.Sprintf("ing%d", i), e.class, fmt.Sprintf("h%d.example.com", i), "/", fmt.Sprintf("svc%d", i%services), 80)
		ing.Spec.Rules[0].HTTP.Paths = append(ing.Spec.Rules[0].HTTP.Paths, networkingv1.HTTPIngressPath{
			Path: "/api", PathType: ptr.To(networkingv1.PathTypeExact), Backend: serviceBackend(fmt.Sprintf("svc%d", i%services), 80)})
		jobs <- ing
	}
	close(jobs)
	wg.Wait()
}
