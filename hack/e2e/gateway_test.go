package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/hack/e2e/framework"
	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/reconcile"
)

// gatewayPool is where Baton takes Gateway addresses from in these tests:
// inside the pod network but past the last pod index (250), and made
// local to this host by a route the test adds and removes.
const gatewayPool = "10.244.251.0/28"

// TestGatewayAPI drives HTTPRoutes through two Gateways of the real
// binary, to real backend processes, with the standard-channel Gateway API
// CRDs installed in a control plane of its own. Every request is a single
// raw HTTP/1.1 exchange on a fresh connection: nothing retries, follows a
// redirect or fixes up a header behind the test's back.
func TestGatewayAPI(t *testing.T) {
	c := gatewayControlPlane(t)
	localPool(t)
	const ns = "gateway"
	pods := startPods(t, 20, 21, 22, 23)
	port, tlsPort := freePort(t), freePort(t)
	ingTLS := ingress(ns, "ing-tls", "gw", rule{"ingsecure.test", "/", "a"})
	ingTLS.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"ingsecure.test"}, SecretName: "ing-cert"}}
	gatewayA := httpGateway(ns, "gw-a", port)
	gatewayA.Spec.Listeners = append(gatewayA.Spec.Listeners, gatewayv1.Listener{Name: "https", Port: gatewayv1.PortNumber(tlsPort),
		Protocol: gatewayv1.HTTPSProtocolType, Hostname: ptr.To(gatewayv1.Hostname("secure.test")),
		TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "secure-cert"}}}})
	createOn(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, ingressClass("gw"),
		tlsSecret(t, ns, "secure-cert", "secure.test"), tlsSecret(t, ns, "ing-cert", "ingsecure.test"), ingTLS,
		service(ns, "a"), endpointSlice(ns, "a", pods[0]), service(ns, "b"), endpointSlice(ns, "b", pods[1]),
		service(ns, "c"), endpointSlice(ns, "c", pods[2]), service(ns, "d"), endpointSlice(ns, "d", pods[3]),
		upstreamStatic(ns, "static-d", pods[3].IP),
		ingress(ns, "ing", "gw", rule{"ing.test", "/", "a"}),
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "baton-e2e"},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: "baton.dev/gateway-controller"}},
		gatewayA, httpGateway(ns, "gw-b", port))
	createOn(t, c, gatewayRoutes(ns)...)
	opts := framework.BatonOptions{HTTPAddr: "0.0.0.0:" + strconv.Itoa(port), HTTPSAddr: "0.0.0.0:" + strconv.Itoa(tlsPort)}
	b := startBatonWith(t, c, opts, "gw", "--gateway-address-pool", gatewayPool)
	ingressAddr := "127.0.0.1:" + strconv.Itoa(port)

	addrA := programmedAddress(t, c, ns, "gw-a")
	addrB := programmedAddress(t, c, ns, "gw-b")
	t.Logf("gateway addresses: gw-a %s, gw-b %s", addrA, addrB)
	gwA, gwB := net.JoinHostPort(addrA, strconv.Itoa(port)), net.JoinHostPort(addrB, strconv.Itoa(port))
	tlsA, tlsIngress := net.JoinHostPort(addrA, strconv.Itoa(tlsPort)), "127.0.0.1:"+strconv.Itoa(tlsPort)
	eventually(t, 30*time.Second, func() error { return routeStatuses(c, ns) })
	eventually(t, 30*time.Second, func() error {
		return attachedRoutes(c, ns, map[string]int32{"gw-a/http": 11, "gw-a/https": 1, "gw-b/http": 1})
	})

	t.Run("matching and precedence", func(t *testing.T) { checkMatching(t, gwA) })
	t.Run("weighted split", func(t *testing.T) { checkSplit(t, gwA) })
	t.Run("redirect", func(t *testing.T) { checkRedirect(t, gwA) })
	t.Run("rewrite", func(t *testing.T) { checkRewrite(t, gwA) })
	t.Run("header modifiers", func(t *testing.T) { checkHeaderModifiers(t, gwA) })
	t.Run("upstream backend", func(t *testing.T) {
		expectRaw(t, gwA, framework.RawRequest{Host: "upstream.test", Target: "/"}, http.StatusOK, "pod-23")
	})
	t.Run("isolation", func(t *testing.T) { checkIsolation(t, gwA, gwB, ingressAddr) })
	t.Run("missing backend", func(t *testing.T) { checkMissingBackend(t, c, ns, gwA) })
	t.Run("propagation", func(t *testing.T) { checkPropagation(t, c, ns, gwA) })
	t.Run("partly missing backends", func(t *testing.T) { checkPartlyMissing(t, gwA) })
	t.Run("redirect ports", func(t *testing.T) { checkRedirectPorts(t, gwA, port) })
	t.Run("backend appears", func(t *testing.T) { checkBackendAppears(t, c, ns, gwA, pods[2]) })
	t.Run("route moves", func(t *testing.T) { checkRouteMoves(t, c, ns, gwA, gwB) })
	t.Run("gateway deleted", func(t *testing.T) { checkGatewayDeleted(t, c, ns, gwB) })
	t.Run("https listener", func(t *testing.T) { checkHTTPS(t, tlsA, tlsIngress) })
	t.Run("request timeout", func(t *testing.T) { checkTimeout(t, gwA) })
	t.Run("restart keeps addresses", func(t *testing.T) {
		b.Kill()
		startBatonWith(t, c, opts, "gw", "--gateway-address-pool", gatewayPool)
		if got := programmedAddress(t, c, ns, "gw-a"); got != addrA {
			t.Errorf("gw-a has address %s after a restart, had %s", got, addrA)
		}
		expectRaw(t, gwA, framework.RawRequest{Host: "match.test", Target: "/api/x"}, 200, "pod-20")
	})
	t.Run("warning events", func(t *testing.T) { checkWarningEvents(t, c, ns) })
}

// gatewayControlPlane is a control plane with the chart's copy of the
// standard-channel Gateway API CRDs (the module's own, v1.6.3).
func gatewayControlPlane(t *testing.T) *framework.ControlPlane {
	t.Helper()
	c, err := framework.StartControlPlane(root, filepath.Join(root, "charts", "baton", "gateway-api", "crds"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// localPool makes every address of gatewayPool one of this host's (a
// `local` route), so that a connection to a Gateway's address reaches
// Baton's wildcard listener with that address as its local address.
func localPool(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "route", "replace", "local", gatewayPool, "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("local route for %s: %v: %s", gatewayPool, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "route", "delete", "local", gatewayPool, "dev", "lo").Run() })
}

func freePort(t *testing.T) int {
	t.Helper()
	_, p, err := net.SplitHostPort(framework.FreeAddr())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func httpGateway(ns, name string, port int) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "baton-e2e", Listeners: []gatewayv1.Listener{{
			Name: "http", Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.HTTPProtocolType}}}}
}

// programmedAddress waits for the Gateway to be Programmed with one
// address of the pool, and returns it.
func programmedAddress(t *testing.T, c *framework.ControlPlane, ns, name string) string {
	t.Helper()
	var addr string
	eventually(t, 30*time.Second, func() error {
		var g gatewayv1.Gateway
		if err := c.Client.Get(context.Background(), keyOf(ns, name), &g); err != nil {
			return err
		}
		if err := conditionTrue(g.Status.Conditions, "Programmed", g.Generation); err != nil {
			return fmt.Errorf("gateway %s: %w", name, err)
		}
		if len(g.Status.Addresses) != 1 || !strings.HasPrefix(g.Status.Addresses[0].Value, "10.244.251.") {
			return fmt.Errorf("gateway %s: addresses %+v, want one of %s", name, g.Status.Addresses, gatewayPool)
		}
		addr = g.Status.Addresses[0].Value
		return nil
	})
	return addr
}

func conditionTrue(conds []metav1.Condition, typ string, generation int64) error {
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition", typ)
	case c.Status != metav1.ConditionTrue:
		return fmt.Errorf("%s %s: %s: %s", typ, c.Status, c.Reason, c.Message)
	case c.ObservedGeneration != generation:
		return fmt.Errorf("%s observedGeneration %d, generation %d", typ, c.ObservedGeneration, generation)
	}
	return nil
}

// attachedRoutes compares listener attachedRoutes, by "gateway/listener".
func attachedRoutes(c *framework.ControlPlane, ns string, want map[string]int32) error {
	for name, n := range want {
		gw, listener, _ := strings.Cut(name, "/")
		var g gatewayv1.Gateway
		if err := c.Client.Get(context.Background(), keyOf(ns, gw), &g); err != nil {
			return err
		}
		i := slices.IndexFunc(g.Status.Listeners, func(l gatewayv1.ListenerStatus) bool { return string(l.Name) == listener })
		if i < 0 || g.Status.Listeners[i].AttachedRoutes != n {
			return fmt.Errorf("gateway %s listeners %+v, want %s attachedRoutes %d", gw, g.Status.Listeners, listener, n)
		}
	}
	return nil
}

// routeStatuses checks that every route is Accepted by its Gateway, and
// that all but the broken one resolved their references.
func routeStatuses(c *framework.ControlPlane, ns string) error {
	var routes gatewayv1.HTTPRouteList
	if err := c.Client.List(context.Background(), &routes); err != nil {
		return err
	}
	for _, r := range routes.Items {
		if len(r.Status.Parents) != 1 {
			return fmt.Errorf("route %s: parents %+v", r.Name, r.Status.Parents)
		}
		p := r.Status.Parents[0]
		if err := conditionTrue(p.Conditions, "Accepted", r.Generation); err != nil {
			return fmt.Errorf("route %s: %w", r.Name, err)
		}
		resolved := meta.FindStatusCondition(p.Conditions, "ResolvedRefs")
		want := metav1.ConditionTrue
		broken := r.Name == "broken" || r.Name == "partly"
		if broken {
			want = metav1.ConditionFalse
		}
		if resolved == nil || resolved.Status != want {
			return fmt.Errorf("route %s: ResolvedRefs %+v, want %s", r.Name, resolved, want)
		}
		if broken && resolved.Reason != "BackendNotFound" {
			return fmt.Errorf("route broken: ResolvedRefs reason %s, want BackendNotFound", resolved.Reason)
		}
	}
	return nil
}

// expectRaw sends one request and checks the status and, unless empty,
// which pod answered; it returns the response.
func expectRaw(t *testing.T, addr string, r framework.RawRequest, status int, pod string) *framework.RawResponse {
	t.Helper()
	resp, err := r.Do(addr, 10*time.Second)
	if err != nil {
		t.Errorf("%s %s%s %v: %v", r.Method, r.Host, r.Target, r.Header, err)
		return nil
	}
	if resp.Status != status || (pod != "" && resp.Header.Get("X-Pod") != pod) {
		t.Errorf("%s %s%s %v via %s: %d from %q, want %d from %q (body %.200q)", r.Method, r.Host, r.Target, r.Header,
			addr, resp.Status, resp.Header.Get("X-Pod"), status, pod, resp.Body)
	}
	return resp
}

// echoed is what the test backend saw of a request.
type echoed struct {
	Pod     string              `json:"pod"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

func decodeEcho(t *testing.T, resp *framework.RawResponse) echoed {
	t.Helper()
	var e echoed
	if resp == nil {
		return e
	}
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		t.Errorf("backend reply %q: %v", resp.Body, err)
	}
	return e
}

func checkMatching(t *testing.T, gw string) {
	const canary = "X-Env: canary"
	cases := []struct {
		name   string
		req    framework.RawRequest
		status int
		pod    string
	}{
		{"exact path", framework.RawRequest{Target: "/exact"}, 200, "pod-20"},
		{"exact is not a prefix", framework.RawRequest{Target: "/exact/x"}, 404, ""},
		{"prefix", framework.RawRequest{Target: "/api/x"}, 200, "pod-20"},
		{"prefix matches whole segments", framework.RawRequest{Target: "/apix"}, 404, ""},
		{"header", framework.RawRequest{Target: "/api/x", Header: []string{canary}}, 200, "pod-21"},
		{"header value is exact", framework.RawRequest{Target: "/api/x", Header: []string{"X-Env: canaryx"}}, 200, "pod-20"},
		{"query", framework.RawRequest{Target: "/api/x?v=2"}, 200, "pod-22"},
		{"headers before query", framework.RawRequest{Target: "/api/x?v=2", Header: []string{canary}}, 200, "pod-21"},
		{"method", framework.RawRequest{Method: "DELETE", Target: "/api/x"}, 200, "pod-23"},
		{"method before headers", framework.RawRequest{Method: "DELETE", Target: "/api/x", Header: []string{canary}}, 200, "pod-23"},
		{"longer prefix before headers", framework.RawRequest{Target: "/api/v2/x", Header: []string{canary}}, 200, "pod-22"},
		{"header names ignore case", framework.RawRequest{Target: "/api/x", Header: []string{"x-eNV: canary"}}, 200, "pod-21"},
		{"regular expression", framework.RawRequest{Target: "/re/123"}, 200, "pod-21"},
		{"regular expression matches the whole path", framework.RawRequest{Target: "/re/123/x"}, 404, ""},
		{"host without route", framework.RawRequest{Host: "nothing.test", Target: "/api/x"}, 404, ""},
	}
	for _, c := range cases {
		if c.req.Host == "" {
			c.req.Host = "match.test"
		}
		t.Run(c.name, func(t *testing.T) { expectRaw(t, gw, c.req, c.status, c.pod) })
	}
}

// checkSplit sends n requests to an 80/20 split: a smooth weighted pick
// gives exactly 80%, a random one within a few percent.
func checkSplit(t *testing.T, gw string) {
	const n = 500
	seen := map[string]int{}
	for range n {
		resp, err := framework.RawRequest{Host: "split.test", Target: "/"}.Do(gw, 10*time.Second)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("split.test: %+v, %v", resp, err)
		}
		seen[resp.Header.Get("X-Pod")]++
	}
	share := float64(seen["pod-20"]) / n
	t.Logf("80/20 split over %d requests: %v (%.1f%% to the 80)", n, seen, 100*share)
	if share < 0.75 || share > 0.85 || seen["pod-20"]+seen["pod-21"] != n {
		t.Errorf("80/20 split: %v", seen)
	}
}

// checkRedirect: scheme https and port 8443, path and query kept
// (HTTPRequestRedirectFilter), 301 as asked.
func checkRedirect(t *testing.T, gw string) {
	resp := expectRaw(t, gw, framework.RawRequest{Host: "redirect.test", Target: "/some/path?q=1"}, http.StatusMovedPermanently, "")
	if want := "https://redirect.test:8443/some/path?q=1"; resp != nil && resp.Header.Get("Location") != want {
		t.Errorf("Location %q, want %q", resp.Header.Get("Location"), want)
	}
}

// checkRewrite: ReplacePrefixMatch replaces the matched segments only.
func checkRewrite(t *testing.T, gw string) {
	for target, want := range map[string]string{"/old/x?q=1": "/new/x?q=1", "/old": "/new", "/old/": "/new/"} {
		e := decodeEcho(t, expectRaw(t, gw, framework.RawRequest{Host: "rewrite.test", Target: target}, 200, "pod-20"))
		if e.Path != want {
			t.Errorf("%s reached the backend as %q, want %q", target, e.Path, want)
		}
	}
}

func checkHeaderModifiers(t *testing.T, gw string) {
	resp := expectRaw(t, gw, framework.RawRequest{Host: "headers.test", Target: "/",
		Header: []string{"X-Set: client", "X-Add: client", "X-Remove: client"}}, 200, "pod-20")
	e := decodeEcho(t, resp)
	// Add appends to the client's value: the spec shows "foo,bar", and one
	// line per value means the same (RFC 9110, 5.3).
	got := fmt.Sprintf("%v %s %v", e.Headers["X-Set"], strings.Join(e.Headers["X-Add"], ","), e.Headers["X-Remove"])
	if want := "[set] client,added []"; got != want {
		t.Errorf("request headers set/add/remove: %s, want %s", got, want)
	}
	if resp == nil {
		return
	}
	if got := fmt.Sprint(resp.Header.Values("X-Resp-Set"), resp.Header.Values("X-Resp-Add"), resp.Header.Values("Content-Type")); got != "[set] [added] []" {
		t.Errorf("response headers set/add/remove: %s, want [set] [added] []", got)
	}
}

// checkIsolation: a route is reached only through the Gateway it is
// attached to, and an Ingress host only through the Ingress listener.
func checkIsolation(t *testing.T, gwA, gwB, ingressAddr string) {
	expectRaw(t, gwB, framework.RawRequest{Host: "only-b.test", Target: "/"}, 200, "pod-21")
	expectRaw(t, gwA, framework.RawRequest{Host: "only-b.test", Target: "/"}, 404, "")
	expectRaw(t, gwB, framework.RawRequest{Host: "match.test", Target: "/exact"}, 404, "")
	expectRaw(t, ingressAddr, framework.RawRequest{Host: "ing.test", Target: "/"}, 200, "pod-20")
	expectRaw(t, gwA, framework.RawRequest{Host: "ing.test", Target: "/"}, 404, "")
	expectRaw(t, ingressAddr, framework.RawRequest{Host: "match.test", Target: "/exact"}, 404, "")
}

// checkMissingBackend: the route with a missing Service answers 500 (the
// spec's answer for a backendRef that cannot be resolved) and the others
// still serve.
func checkMissingBackend(t *testing.T, c *framework.ControlPlane, ns, gw string) {
	expectRaw(t, gw, framework.RawRequest{Host: "broken.test", Target: "/"}, http.StatusInternalServerError, "")
	expectRaw(t, gw, framework.RawRequest{Host: "match.test", Target: "/exact"}, 200, "pod-20")
}

// checkPropagation moves /exact between b and a five times and measures
// how long each change takes to reach traffic, polling with single raw
// requests.
func checkPropagation(t *testing.T, c *framework.ControlPlane, ns, gw string) {
	var took []time.Duration
	for i := range 5 {
		svc, pod := "b", "pod-21"
		if i%2 == 1 {
			svc, pod = "a", "pod-20"
		}
		took = append(took, moveExact(t, c, ns, gw, svc, pod))
	}
	slices.Sort(took)
	t.Logf("route change reached traffic in %v (sorted, 5 changes)", took)
	expectRaw(t, gw, framework.RawRequest{Host: "match.test", Target: "/api/x"}, 200, "pod-20") // the rest unchanged
}

// moveExact points the /exact rule of route match at svc and returns how
// long until a request is answered by pod.
func moveExact(t *testing.T, c *framework.ControlPlane, ns, gw, svc, pod string) time.Duration {
	t.Helper()
	var r gatewayv1.HTTPRoute
	if err := c.Client.Get(context.Background(), keyOf(ns, "match"), &r); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(r.DeepCopy()) // no resourceVersion: Baton's status writes cannot conflict
	r.Spec.Rules[0].BackendRefs = backendRefs(svc)
	start := time.Now()
	if err := c.Client.Patch(context.Background(), &r, patch); err != nil {
		t.Fatal(err)
	}
	deadline := start.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := framework.RawRequest{Host: "match.test", Target: "/exact"}.Do(gw, 5*time.Second)
		if err == nil && resp.Status == 200 && resp.Header.Get("X-Pod") == pod {
			return time.Since(start).Round(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("/exact not served by %s within 30s of the change", pod)
	return 0
}

func backendRefs(services ...string) []gatewayv1.HTTPBackendRef {
	var refs []gatewayv1.HTTPBackendRef
	for _, s := range services {
		refs = append(refs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(s), Port: ptr.To(gatewayv1.PortNumber(80))}}})
	}
	return refs
}

func weighted(service string, weight int32) gatewayv1.HTTPBackendRef {
	ref := backendRefs(service)[0]
	ref.Weight = ptr.To(weight)
	return ref
}

func prefix(p string) gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(p)}}
}

func httpRoute(ns, name, gw, host string, rules ...gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gw)}}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(host)}, Rules: rules}}
}

func redirectRule(path string, f *gatewayv1.HTTPRequestRedirectFilter) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{prefix(path)},
		Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: f}}}
}

// gatewayRoutes are the routes of TestGatewayAPI: eleven on gw-a (one of
// them, secure.test, on its HTTPS listener too), one on gw-b.
func gatewayRoutes(ns string) []client.Object {
	exact := gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchExact), Value: ptr.To("/exact")}}
	header := prefix("/api")
	header.Headers = []gatewayv1.HTTPHeaderMatch{{Name: "X-Env", Value: "canary"}}
	query := prefix("/api")
	query.QueryParams = []gatewayv1.HTTPQueryParamMatch{{Name: "v", Value: "2"}}
	method := prefix("/api")
	method.Method = ptr.To(gatewayv1.HTTPMethodDelete)
	upstream := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Group: ptr.To(gatewayv1.Group(v1alpha1.GroupName)), Kind: ptr.To(gatewayv1.Kind(v1alpha1.UpstreamKind)), Name: "static-d"}}}
	return []client.Object{
		httpRoute(ns, "match", "gw-a", "match.test",
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{exact}, BackendRefs: backendRefs("a")},
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{prefix("/api")}, BackendRefs: backendRefs("a")},
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{header}, BackendRefs: backendRefs("b")},
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{query}, BackendRefs: backendRefs("c")},
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{method}, BackendRefs: backendRefs("d")},
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{prefix("/api/v2")}, BackendRefs: backendRefs("c")},
			gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
				Type: ptr.To(gatewayv1.PathMatchRegularExpression), Value: ptr.To("/re/[0-9]+")}}}, BackendRefs: backendRefs("b")}),
		httpRoute(ns, "split", "gw-a", "split.test",
			gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{weighted("a", 80), weighted("b", 20)}}),
		httpRoute(ns, "redirect", "gw-a", "redirect.test", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
				Scheme: ptr.To("https"), Port: ptr.To(gatewayv1.PortNumber(8443)), StatusCode: ptr.To(301)}}}}),
		httpRoute(ns, "rewrite", "gw-a", "rewrite.test", gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{prefix("/old")}, BackendRefs: backendRefs("a"),
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
				Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/new")}}}}}),
		httpRoute(ns, "headers", "gw-a", "headers.test", gatewayv1.HTTPRouteRule{BackendRefs: backendRefs("a"),
			Filters: []gatewayv1.HTTPRouteFilter{
				{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
					Set: []gatewayv1.HTTPHeader{{Name: "X-Set", Value: "set"}}, Add: []gatewayv1.HTTPHeader{{Name: "X-Add", Value: "added"}},
					Remove: []string{"X-Remove"}}},
				{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{
					Set: []gatewayv1.HTTPHeader{{Name: "X-Resp-Set", Value: "set"}}, Add: []gatewayv1.HTTPHeader{{Name: "X-Resp-Add", Value: "added"}},
					Remove: []string{"Content-Type"}}}}}),
		httpRoute(ns, "broken", "gw-a", "broken.test", gatewayv1.HTTPRouteRule{BackendRefs: backendRefs("missing")}),
		httpRoute(ns, "upstream", "gw-a", "upstream.test", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{upstream}}),
		httpRoute(ns, "only-b", "gw-b", "only-b.test", gatewayv1.HTTPRouteRule{BackendRefs: backendRefs("b")}),
		httpRoute(ns, "partly", "gw-a", "partly.test",
			gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{weighted("a", 1), weighted("missing", 1)}}),
		httpRoute(ns, "secure", "gw-a", "secure.test", gatewayv1.HTTPRouteRule{BackendRefs: backendRefs("c")}),
		httpRoute(ns, "timeout", "gw-a", "timeout.test", gatewayv1.HTTPRouteRule{BackendRefs: backendRefs("a"),
			Timeouts: &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("500ms"))}}),
		httpRoute(ns, "redirects", "gw-a", "redirects.test",
			redirectRule("/https", &gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr.To("https")}),
			redirectRule("/host", &gatewayv1.HTTPRequestRedirectFilter{Hostname: ptr.To(gatewayv1.PreciseHostname("other.test"))}),
			redirectRule("/path", &gatewayv1.HTTPRequestRedirectFilter{Path: &gatewayv1.HTTPPathModifier{
				Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/moved")}})),
	}
}

// checkPartlyMissing: with one of two equal backends missing, half the
// requests get 500 and the other half are served (HTTPBackendRef: "the
// proportion of requests that would otherwise have been routed to an
// invalid backend MUST receive a 500").
func checkPartlyMissing(t *testing.T, gw string) {
	const n = 200
	seen := map[int]int{}
	for range n {
		resp, err := framework.RawRequest{Host: "partly.test", Target: "/"}.Do(gw, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seen[resp.Status]++
	}
	t.Logf("1:1 with one backend missing, over %d requests: %v", n, seen)
	if seen[200] < n*4/10 || seen[500] < n*4/10 || seen[200]+seen[500] != n {
		t.Errorf("statuses %v, want about half 200 and half 500", seen)
	}
}

// checkRedirectPorts: the Location's port follows HTTPRequestRedirectFilter:
// a scheme alone gives its well-known port, left out; otherwise the port
// the request came in on is kept.
func checkRedirectPorts(t *testing.T, gw string, port int) {
	p := strconv.Itoa(port)
	for target, want := range map[string]string{
		"/https/a?q=1": "https://redirects.test/https/a?q=1",
		"/host/a":      "http://other.test:" + p + "/host/a",
		"/path/a":      "http://redirects.test:" + p + "/moved/a",
	} {
		resp := expectRaw(t, gw, framework.RawRequest{Host: "redirects.test:" + p, Target: target}, http.StatusFound, "")
		if resp != nil && resp.Header.Get("Location") != want {
			t.Errorf("%s: Location %q, want %q", target, resp.Header.Get("Location"), want)
		}
	}
}

// checkBackendAppears: creating the missing Service heals the route.
func checkBackendAppears(t *testing.T, c *framework.ControlPlane, ns, gw string, pod *framework.Pod) {
	createOn(t, c, service(ns, "missing"), endpointSlice(ns, "missing", pod))
	eventually(t, 30*time.Second, func() error {
		resp, err := framework.RawRequest{Host: "broken.test", Target: "/"}.Do(gw, 5*time.Second)
		if err != nil {
			return err
		}
		if resp.Status != 200 || resp.Header.Get("X-Pod") != pod.Name {
			return fmt.Errorf("broken.test: %d from %q", resp.Status, resp.Header.Get("X-Pod"))
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		var r gatewayv1.HTTPRoute
		if err := c.Client.Get(context.Background(), keyOf(ns, "broken"), &r); err != nil {
			return err
		}
		if len(r.Status.Parents) != 1 {
			return fmt.Errorf("parents %+v", r.Status.Parents)
		}
		return conditionTrue(r.Status.Parents[0].Conditions, "ResolvedRefs", r.Generation)
	})
}

// checkRouteMoves: a route whose parentRef moves from A to B is served
// by B only, and the listeners count it where it is now.
func checkRouteMoves(t *testing.T, c *framework.ControlPlane, ns, gwA, gwB string) {
	var r gatewayv1.HTTPRoute
	if err := c.Client.Get(context.Background(), keyOf(ns, "upstream"), &r); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.ParentRefs[0].Name = "gw-b"
	if err := c.Client.Patch(context.Background(), &r, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		resp, err := framework.RawRequest{Host: "upstream.test", Target: "/"}.Do(gwB, 5*time.Second)
		if err != nil {
			return err
		}
		if resp.Status != 200 {
			return fmt.Errorf("upstream.test via gw-b: %d", resp.Status)
		}
		return nil
	})
	expectRaw(t, gwA, framework.RawRequest{Host: "upstream.test", Target: "/"}, 404, "")
	eventually(t, 30*time.Second, func() error { return attachedRoutes(c, ns, map[string]int32{"gw-a/http": 10, "gw-b/http": 2}) })
}

// checkGatewayDeleted: once B is deleted its address serves none of its
// routes.
func checkGatewayDeleted(t *testing.T, c *framework.ControlPlane, ns, gwB string) {
	if err := c.Client.Delete(context.Background(), httpGateway(ns, "gw-b", 0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		resp, err := framework.RawRequest{Host: "only-b.test", Target: "/"}.Do(gwB, 5*time.Second)
		if err == nil && resp.Status != 404 {
			return fmt.Errorf("only-b.test via the deleted gw-b: %d", resp.Status)
		}
		return nil
	})
}

// checkWarningEvents: after all the rebuilds above, the two routes with a
// missing backend have one BackendNotFound Event each, and nothing else
// has any from Baton: a healthy Gateway or route is never warned about.
// Other components' Events are not Baton's to judge (the API server's
// ClusterIP repair loop warns about a Service of this namespace now and
// then: ClusterIPNotAllocated).
func checkWarningEvents(t *testing.T, c *framework.ControlPlane, ns string) {
	eventually(t, 30*time.Second, func() error {
		var list eventsv1.EventList
		if err := c.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		got := map[string]int{}
		for _, ev := range list.Items {
			if ev.ReportingController == reconcile.ReportingController {
				got[ev.Regarding.Kind+" "+ev.Regarding.Name+" "+ev.Type+" "+ev.Reason]++
			}
		}
		want := map[string]int{"HTTPRoute broken Warning BackendNotFound": 1, "HTTPRoute partly Warning BackendNotFound": 1}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("events %v, want %v", got, want)
		}
		return nil
	})
}

// checkHTTPS: the Gateway's HTTPS listener serves its own certificate and
// its routes; an Ingress's certificate and host are served on the Ingress
// listener only, never through a Gateway's address.
func checkHTTPS(t *testing.T, tlsGateway, tlsIngress string) {
	resp, err := framework.RawRequest{Host: "secure.test", Target: "/"}.DoTLS(tlsGateway, "secure.test", 10*time.Second)
	if err != nil || resp.Status != 200 || resp.Header.Get("X-Pod") != "pod-22" || resp.PeerCN != "secure.test" {
		t.Errorf("https://secure.test via the Gateway: %+v, %v; want 200 from pod-22 with certificate secure.test", resp, err)
	}
	resp, err = framework.RawRequest{Host: "ingsecure.test", Target: "/"}.DoTLS(tlsGateway, "ingsecure.test", 10*time.Second)
	if err == nil && (resp.PeerCN == "ingsecure.test" || resp.Status != 404) {
		t.Errorf("an Ingress host through the Gateway's HTTPS address: %d with certificate %q, want 404 and not the Ingress's certificate", resp.Status, resp.PeerCN)
	}
	resp, err = framework.RawRequest{Host: "ingsecure.test", Target: "/"}.DoTLS(tlsIngress, "ingsecure.test", 10*time.Second)
	if err != nil || resp.Status != 200 || resp.PeerCN != "ingsecure.test" {
		t.Errorf("https://ingsecure.test via the Ingress listener: %+v, %v", resp, err)
	}
	resp, err = framework.RawRequest{Host: "secure.test", Target: "/"}.DoTLS(tlsIngress, "secure.test", 10*time.Second)
	if err == nil && (resp.PeerCN == "secure.test" || resp.Status != 404) {
		t.Errorf("a Gateway host through the Ingress HTTPS listener: %d with certificate %q", resp.Status, resp.PeerCN)
	}
}

// checkTimeout: a route's request timeout answers 504 when the backend is
// slower (as the conformance test HTTPRouteRequestTimeout expects), and
// leaves faster answers alone.
func checkTimeout(t *testing.T, gw string) {
	start := time.Now()
	expectRaw(t, gw, framework.RawRequest{Host: "timeout.test", Target: "/delay/3000"}, http.StatusGatewayTimeout, "")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the 500ms timeout answered after %v", took)
	}
	expectRaw(t, gw, framework.RawRequest{Host: "timeout.test", Target: "/delay/10"}, http.StatusOK, "pod-20")
}
