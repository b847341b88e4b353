package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/baton-dev/baton/hack/e2e/framework"
	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// memPoint is Baton's memory after some changes of the steady phase: the
// resident set and the Go heap in use as they were, then the heap in use
// and the live heap right after a garbage collection (the heap profile
// forces one), which tell growth from collector slack; and the number of
// request latency series, one per routing Ingress and upstream.
type memPoint struct {
	changes               int
	rss                   int64
	heapInuse             float64
	heapInuseGC, heapLive float64
	series                int
}

// steadyChanges are the kinds of change, in turn, without objects piling
// up. i counts the changes of that kind.
var steadyChanges = []func(w *world, p *poller, i int) error{
	func(w *world, p *poller, i int) error { // a new Ingress, used, then deleted
		ing := ingress(fmt.Sprintf("steady%d", i), fmt.Sprintf("steady%d.probe", i), "/", "probe", 80)
		if err := w.c.Create(background, ing); err != nil {
			return err
		}
		if _, err := p.until(ing.Spec.Rules[0].Host, "/", status(200)); err != nil {
			return err
		}
		return w.c.Delete(background, ing)
	},
	func(w *world, _ *poller, i int) error { return setSteadyPath(w, i) },
	func(w *world, _ *poller, i int) error {
		addrs := map[bool][]string{true: {w.a.IP}}[i%2 == 0]
		return patch(w, &discoveryv1.EndpointSlice{}, "epprobe-0", func(s *discoveryv1.EndpointSlice) { setEndpoints(s, addrs) })
	},
	func(w *world, _ *poller, i int) error {
		return patch(w, &corev1.Service{}, "portsvc", func(s *corev1.Service) { s.Spec.Ports[0].Port = int32(80 + i%2) })
	},
	func(w *world, _ *poller, _ int) error {
		crt, key := w.certificate()
		return patch(w, &corev1.Secret{}, "tlsprobe", func(s *corev1.Secret) {
			s.Data = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
		})
	},
	func(w *world, _ *poller, i int) error {
		return patch(w, &v1alpha1.Upstream{}, "wprobe", func(u *v1alpha1.Upstream) { u.Spec.Endpoints = weights(1, int32(1+i%2*9999), w) })
	},
}

func steadyPath(i int) string { return fmt.Sprintf("/s%d", i) }

func setSteadyPath(w *world, i int) error {
	return patch(w, &networkingv1.Ingress{}, "pathprobe", func(ing *networkingv1.Ingress) {
		ing.Spec.Rules[0].HTTP.Paths[0].Path = steadyPath(i)
	})
}

// runSteady makes n changes of the kinds in turn, each written as soon as
// the previous write returned (only a new Ingress is waited for, to be
// used before it is deleted again: its name is new each time, as a leak
// keyed by name would need), and reads Baton's
// memory before the first and after every `every` changes, once the last
// path change shows through the proxy and a second has passed. The heap
// profiles go to dir, for `go tool pprof -diff_base`.
func runSteady(w *world, p *poller, b *framework.Baton, n, every int, dir string) ([]memPoint, error) {
	points := []memPoint{}
	lastPath := -1
	for c := 0; c <= n; c++ {
		if c%every == 0 {
			pt, err := steadyPoint(w, p, b, c, lastPath, dir)
			if err != nil {
				return points, err
			}
			points = append(points, pt)
		}
		if c == n {
			break
		}
		k, i := c%len(steadyChanges), c/len(steadyChanges)
		if err := steadyChanges[k](w, p, i); err != nil {
			return points, fmt.Errorf("steady change %d: %w", c, err)
		}
		if k == 1 {
			lastPath = i
		}
	}
	return points, nil
}

func steadyPoint(w *world, p *poller, b *framework.Baton, c, lastPath int, dir string) (memPoint, error) {
	if lastPath < 0 { // a fence: the path change below is the latest write
		lastPath = 1 << 20
		if err := setSteadyPath(w, lastPath); err != nil {
			return memPoint{}, err
		}
	}
	if _, err := p.until("path.probe", steadyPath(lastPath), status(200)); err != nil {
		return memPoint{}, err
	}
	time.Sleep(time.Second) // status writes and the rebuilds in flight settle
	pt := memPoint{changes: c}
	pt.rss, pt.heapInuse = memory(b)
	if err := saveHeapProfile(b.MetricsAddr, filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", c))); err != nil {
		return pt, err
	}
	m, err := framework.ScrapeMetrics(b.MetricsAddr)
	if err != nil {
		return pt, err
	}
	pt.heapInuseGC, pt.heapLive = sum(m, "go_memstats_heap_inuse_bytes"), sum(m, "go_memstats_heap_alloc_bytes")
	for series := range m {
		if strings.HasPrefix(series, "baton_request_duration_seconds_count{") {
			pt.series++
		}
	}
	return pt, nil
}

// saveHeapProfile asks Baton (--profiling) for its heap profile after a
// garbage collection.
func saveHeapProfile(addr, path string) error {
	return saveProfile("http://"+addr+"/debug/pprof/heap?gc=1", 30*time.Second, path)
}

// saveCPUProfile asks Baton (--profiling) for a CPU profile of the next d.
func saveCPUProfile(addr string, d time.Duration, path string) error {
	secs := max(int(d.Seconds()), 1)
	return saveProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), time.Duration(secs+30)*time.Second, path)
}

func saveProfile(url string, timeout time.Duration, path string) error {
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
