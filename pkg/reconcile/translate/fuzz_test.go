package translate

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/router"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/lb"
)

// FuzzTranslate builds structurally valid but arbitrary objects from the
// fuzz bytes (small name pools, so references hit and conflicts happen;
// hosts, paths and Secret data also from arbitrary strings) and checks
// that Translate neither panics nor breaks its invariants, and that the
// data plane accepts every snapshot it produces.
func FuzzTranslate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("baton translates ingresses into snapshots"))
	for _, seed := range boundarySeeds {
		f.Add(seed)
	}
	dataPlane := router.New(lb.NewRegistry(lb.RegistryOptions{}), nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		in, ours := g.input()
		out := Translate(in)
		checkInvariants(t, in, out, ours)
		if err := dataPlane.Check(out.Snapshot); err != nil {
			t.Fatalf("the data plane refuses what translate produced: %v", err)
		}
		if again := Translate(reversed(in)); !reflect.DeepEqual(again, out) {
			t.Fatal("output depends on input order")
		}
	})
}

// gen draws choices from the fuzz bytes; past the end every draw is 0.
type gen struct {
	data []byte
	pos  int
}

func (g *gen) n(max int) int {
	if g.pos >= len(g.data) {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return int(b) % max
}

func (g *gen) bool() bool { return g.n(2) == 1 }

func pick[T any](g *gen, pool ...T) T { return pool[g.n(len(pool))] }

var (
	namespaces = []string{"a", "b"}
	names      = []string{"x", "y", "z"}
	// Valid entries are repeated so that most draws build something usable.
	hosts     = []string{"", "a.com", "a.com", "A.com", "*.a.com", "b.com", "b.com", "x.a.com", "bad_host", "*"}
	paths     = []string{"/", "/", "/api", "/api", "/api/", "/x/y", "/x", "api", "", "/a?b", "//"}
	addresses = []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "10.0.0.1", "::ffff:10.0.0.1", "bogus", "", "fe80::1%eth0"}
	durations = []*metav1.Duration{nil, {Duration: time.Second}, {Duration: time.Hour}, {Duration: -time.Second}, {Duration: 0}}
)

// input returns the objects and the keys of the Ingresses that must be
// ours, decided here independently of Translate.
func (g *gen) input() (Input, map[string]bool) {
	in := Input{ControllerName: controller, ClassName: ourClass}
	ourDefault := g.bool()
	in.IngressClasses = []networkingv1.IngressClass{
		ingressClass(ourClass, controller, ourDefault), ingressClass("other", "example.com/other", g.bool())}
	ours := map[string]bool{}
	for _, ns := range namespaces {
		for _, name := range names {
			g.objectsIn(&in, ns, name, ourDefault, ours)
		}
	}
	if g.bool() {
		in.DefaultTLSSecret = &types.NamespacedName{Namespace: pick(g, namespaces...), Name: pick(g, names...)}
	}
	return in, ours
}

func (g *gen) objectsIn(in *Input, ns, name string, ourDefault bool, ours map[string]bool) {
	if g.n(4) != 0 {
		in.Services = append(in.Services, g.service(ns, name))
	}
	for i := 1 + g.n(2); i > 0; i-- {
		in.EndpointSlices = append(in.EndpointSlices, g.slice(ns, name, i))
	}
	if g.n(4) != 0 {
		in.Secrets = append(in.Secrets, g.secret(ns, name))
	}
	if g.bool() {
		in.Upstreams = append(in.Upstreams, upstream(ns, name, g.upstreamSpec()))
	}
	if g.bool() {
		ing, isOurs := g.ingress(ns, name, ourDefault)
		in.Ingresses = append(in.Ingresses, ing)
		if isOurs {
			ours[ns+"/"+name] = true
		}
	}
}

func (g *gen) service(ns, name string) corev1.Service {
	s := service(ns, name, svcPort("http", 80))
	if g.bool() {
		p := svcPort("grpc", 90)
		p.Protocol = pick(g, corev1.ProtocolTCP, corev1.ProtocolUDP, "")
		if g.bool() {
			h2c := AppProtocolH2C
			p.AppProtocol = &h2c
		}
		s.Spec.Ports = append(s.Spec.Ports, p)
	}
	if g.n(5) == 0 {
		s.Spec.Type = corev1.ServiceTypeExternalName
	}
	return s
}

func (g *gen) slice(ns, svc string, i int) discoveryv1.EndpointSlice {
	ports := map[string]int32{"http": 8080}
	if g.n(4) == 0 {
		ports = map[string]int32{pick(g, "http", "grpc", ""): pick[int32](g, 8080, 9090, 0, 70000)}
	}
	if g.bool() {
		ports["grpc"] = 9090
	}
	var eps []discoveryv1.Endpoint
	for j := 1 + g.n(4); j > 0; j-- {
		mk := pick(g, readyEP, notReadyEP, unknownEP)
		eps = append(eps, mk(pick(g, addresses...)))
	}
	s := endpointSlice(ns, svc, fmt.Sprintf("%s-%d", svc, i), ports, eps...)
	s.AddressType = pick(g, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)
	return s
}

func (g *gen) secret(ns, name string) corev1.Secret {
	data := map[string][]byte{}
	switch g.n(6) {
	case 0, 1, 2:
		data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey] = certPEM, keyPEM
	case 3:
		data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey] = otherCertPEM, keyPEM
	case 4:
		data[corev1.TLSCertKey] = []byte("junk")
	case 5:
		data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey] = []byte(g.str()), []byte(g.str())
	}
	if g.bool() {
		data[v1alpha1.DefaultCAKey] = pick(g, certPEM, []byte("junk"))
	}
	return secretOf(ns, name, pick(g, corev1.SecretTypeTLS, corev1.SecretTypeTLS, corev1.SecretTypeOpaque), data)
}

// upstreamSpec is valid unless the first draw makes it sloppy; sloppy
// specs draw from pools with values the CRD schema would reject.
func (g *gen) upstreamSpec() v1alpha1.UpstreamSpec {
	sloppy := g.n(4) == 0
	bad := func(good, bad int) int {
		if sloppy {
			return good + bad
		}
		return good
	}
	var spec v1alpha1.UpstreamSpec
	if g.bool() {
		for i := 1 + g.n(3); i > 0; i-- {
			spec.Endpoints = append(spec.Endpoints, staticEP(addresses[g.n(bad(5, 4))],
				[]int32{80, 81, 0, 70000}[g.n(bad(2, 2))], []int32{0, 1, 5, -1}[g.n(bad(3, 1))]))
		}
	}
	if len(spec.Endpoints) == 0 || (sloppy && g.bool()) {
		spec.ServiceRef = &v1alpha1.ServiceRef{Name: pick(g, names...), Port: pick(g,
			v1alpha1.ServicePort{Number: 80}, v1alpha1.ServicePort{Name: "http"}, v1alpha1.ServicePort{Name: "grpc"},
			v1alpha1.ServicePort{Number: 90}, v1alpha1.ServicePort{Number: 80, Name: "grpc"}, v1alpha1.ServicePort{})}
	}
	spec.LoadBalancing.Policy = []v1alpha1.Policy{"", v1alpha1.PolicyRoundRobin, v1alpha1.PolicyWeightedRoundRobin,
		v1alpha1.PolicyLeastRequest, "Bogus"}[g.n(bad(4, 1))]
	spec.Protocol = []v1alpha1.Protocol{"", v1alpha1.ProtocolHTTP1, v1alpha1.ProtocolH2C, v1alpha1.ProtocolHTTPS, "SPDY"}[g.n(bad(4, 1))]
	if spec.Protocol == v1alpha1.ProtocolHTTPS || (sloppy && g.bool()) {
		spec.TLS = &v1alpha1.UpstreamTLS{ServerName: "s", CASecretRef: pick(g, nil, &v1alpha1.SecretKeyRef{Name: pick(g, names...)})}
	}
	if g.bool() {
		spec.RequestHeaders = &v1alpha1.HeaderEdits{
			Set:    []v1alpha1.Header{{Name: []string{"X-A", "", "Bad Name"}[g.n(bad(1, 2))], Value: []string{"v", "a\r\nb"}[g.n(bad(1, 1))]}},
			Add:    []v1alpha1.Header{{Name: "X-A", Value: "w"}},
			Remove: []string{[]string{"X-B", "bad:"}[g.n(bad(1, 1))]}}
	}
	if g.bool() {
		spec.Timeouts = &v1alpha1.Timeouts{Connect: durations[g.n(bad(2, 3))], Response: durations[g.n(bad(2, 3))], Idle: durations[g.n(bad(2, 3))], Read: durations[g.n(bad(2, 3))]}
	}
	spec.Retries = []int32{0, 2, -1}[g.n(bad(2, 1))]
	if g.bool() {
		spec.HealthCheck = &v1alpha1.HealthCheck{
			Active: pick(g, nil, &v1alpha1.ActiveHealthCheck{Path: []string{"/h", "h"}[g.n(bad(1, 1))],
				Interval: durations[g.n(bad(2, 3))], Timeout: durations[g.n(bad(2, 3))], HealthyThreshold: []int32{0, 1, -1}[g.n(bad(2, 1))]}),
			Passive: pick(g, nil, &v1alpha1.PassiveHealthCheck{ConsecutiveFailures: []int32{0, 3, -3}[g.n(bad(2, 1))],
				EjectDuration: durations[g.n(bad(2, 3))]}),
		}
	}
	return spec
}

func (g *gen) ingress(ns, name string, ourDefault bool) (networkingv1.Ingress, bool) {
	var opts []ingressOption
	isOurs := true
	switch g.n(5) {
	case 1:
		opts, isOurs = append(opts, noClass()), ourDefault
	case 2:
		opts, isOurs = append(opts, className("other")), false
	case 3:
		opts = append(opts, noClass(), annotation(LegacyClassAnnotation, ourClass))
	case 4:
		opts, isOurs = append(opts, noClass(), annotation(LegacyClassAnnotation, "other")), false
	}
	for i := g.n(4); i > 0; i-- {
		var ps []networkingv1.HTTPIngressPath
		for j := 1 + g.n(4); j > 0; j-- {
			ps = append(ps, g.path())
		}
		opts = append(opts, rule(g.host(), ps...))
	}
	for i := g.n(3); i > 0; i-- {
		opts = append(opts, tlsFor(pick(g, slices.Concat(names, []string{""})...), g.tlsHosts()...))
	}
	if g.n(3) == 0 {
		opts = append(opts, defaultBackend(g.backend()))
	}
	if g.n(4) == 0 {
		opts = append(opts, annotation(AnnotationCanary, g.canary()))
	}
	return ingress(ns, name, g.n(3), opts...), isOurs
}

// canary is a canary annotation naming a Service of the pool, mostly
// valid, sometimes with a port the Service lacks, a weight out of range
// or not JSON at all.
func (g *gen) canary() string {
	if g.n(8) == 0 {
		return g.str()
	}
	return fmt.Sprintf(`{"service":%q,"port":%s,"weight":%d}`, pick(g, names...),
		pick(g, "80", "80", `"http"`, "81", `"grpc"`, "0"), pick(g, 0, 10, 10, 50, 100, 101, -1))
}

func (g *gen) path() networkingv1.HTTPIngressPath {
	p := networkingv1.HTTPIngressPath{Path: g.pathString(), Backend: g.backend()}
	if t := pick(g, "", networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypePrefix,
		networkingv1.PathTypeImplementationSpecific, "Regex"); t != "" {
		p.PathType = &t
	}
	return p
}

func (g *gen) backend() networkingv1.IngressBackend {
	switch g.n(12) {
	case 0, 1, 2:
		return upstreamBackend(pick(g, names...))
	case 3:
		return resourceBackend("example.com", "Bucket", "b")
	case 4:
		return emptyBackend()
	case 5, 6:
		return backendNamed(pick(g, names...), pick(g, "http", "http", "grpc", ""))
	}
	return backend(pick(g, names...), pick[int32](g, 80, 80, 80, 90, 81, 0))
}

func reversed(in Input) Input {
	out := in
	out.IngressClasses = slices.Clone(in.IngressClasses)
	slices.Reverse(out.IngressClasses)
	out.Ingresses = slices.Clone(in.Ingresses)
	slices.Reverse(out.Ingresses)
	out.Services = slices.Clone(in.Services)
	slices.Reverse(out.Services)
	out.EndpointSlices = slices.Clone(in.EndpointSlices)
	slices.Reverse(out.EndpointSlices)
	out.Secrets = slices.Clone(in.Secrets)
	slices.Reverse(out.Secrets)
	out.Upstreams = slices.Clone(in.Upstreams)
	slices.Reverse(out.Upstreams)
	return out
}

var conditionReason = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

func checkInvariants(t *testing.T, in Input, out Output, ours map[string]bool) {
	t.Helper()
	var want []string
	for k := range ours {
		want = append(want, k)
	}
	sort.Strings(want)
	if got := resultKeys(out); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("Ingress results %v, want one per Ingress of our class %v", got, want)
	}
	if len(out.Upstreams) != len(in.Upstreams) {
		t.Fatalf("%d Upstream results for %d Upstreams", len(out.Upstreams), len(in.Upstreams))
	}
	for _, r := range out.Ingresses.All() {
		checkConditions(t, r.Key.String(), r.Conditions)
	}
	for _, r := range out.Upstreams {
		checkConditions(t, r.Key.String(), r.Status.Conditions)
	}
	checkSnapshot(t, out.Snapshot)
}

func checkConditions(t *testing.T, key string, conds []metav1.Condition) {
	t.Helper()
	for _, c := range conds {
		if !conditionReason.MatchString(c.Reason) || c.Message == "" || (c.Status != "True" && c.Status != "False") {
			t.Fatalf("%s: condition %+v would be rejected by the API server", key, c)
		}
	}
}

func checkSnapshot(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	for i := 1; i < len(s.Upstreams); i++ {
		if s.Upstreams[i-1].Name >= s.Upstreams[i].Name {
			t.Fatalf("upstreams not sorted and unique at %q", s.Upstreams[i].Name)
		}
	}
	for i, h := range s.Hosts {
		if i > 0 && s.Hosts[i-1].Name >= h.Name {
			t.Fatalf("hosts not sorted and unique at %q", h.Name)
		}
		if len(h.Routes) == 0 {
			t.Fatalf("host %q has no routes", h.Name)
		}
		seen := map[routeKey]bool{}
		for _, r := range h.Routes {
			checkRoute(t, s, &r)
			k := routeKey{pathType: r.PathType, path: r.Path}
			if seen[k] {
				t.Fatalf("host %q routes %s %s twice", h.Name, r.PathType, r.Path)
			}
			seen[k] = true
		}
	}
	if s.DefaultBackend != nil {
		checkRoute(t, s, s.DefaultBackend)
	}
}

func checkRoute(t *testing.T, s *snapshot.Snapshot, r *snapshot.Route) {
	t.Helper()
	if len(r.Path) == 0 || r.Path[0] != '/' {
		t.Fatalf("route path %q does not start with '/'", r.Path)
	}
	if len(r.Backends) == 0 && s.Upstream(r.Upstream) == nil {
		t.Fatalf("route %s %s names upstream %q, which the snapshot lacks", r.PathType, r.Path, r.Upstream)
	}
	for _, b := range r.Backends {
		if !b.Invalid && s.Upstream(b.Upstream) == nil {
			t.Fatalf("route %s %s has a backend %q, which the snapshot lacks", r.PathType, r.Path, b.Upstream)
		}
	}
}
