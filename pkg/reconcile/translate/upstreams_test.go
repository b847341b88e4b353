package translate

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// fullSpec sets every field of an Upstream.
func fullSpec() v1alpha1.UpstreamSpec {
	spec := static(staticEP("10.0.0.2", 8443, 3), staticEP("fd00::7", 8443, 0), staticEP("10.0.0.1", 8443, 1))
	spec.LoadBalancing.Policy = v1alpha1.PolicyWeightedRoundRobin
	spec.Protocol = v1alpha1.ProtocolHTTPS
	spec.TLS = &v1alpha1.UpstreamTLS{ServerName: "backend.internal", InsecureSkipVerify: true,
		CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca"}}
	spec.HostRewrite = "backend.internal"
	spec.RequestHeaders = &v1alpha1.HeaderEdits{
		Set:    []v1alpha1.Header{{Name: "X-Env", Value: "prod"}},
		Add:    []v1alpha1.Header{{Name: "X-Via", Value: "baton"}, {Name: "X-Via", Value: "edge"}},
		Remove: []string{"X-Internal"},
	}
	spec.Timeouts = &v1alpha1.Timeouts{Connect: dur(time.Second), Response: dur(30 * time.Second), Idle: dur(time.Minute), Read: dur(2 * time.Minute)}
	spec.Retries = 2
	spec.HealthCheck = &v1alpha1.HealthCheck{
		Active: &v1alpha1.ActiveHealthCheck{Path: "/healthz", Interval: dur(5 * time.Second), Timeout: dur(time.Second),
			HealthyThreshold: 4, UnhealthyThreshold: 5},
		Passive: &v1alpha1.PassiveHealthCheck{ConsecutiveFailures: 7, EjectDuration: dur(time.Minute),
			FailingResponses: v1alpha1.FailingResponsesGatewayErrors},
	}
	return spec
}

func caSecret(ns, name, key string, data []byte) corev1.Secret {
	return secretOf(ns, name, corev1.SecretTypeOpaque, map[string][]byte{key: data})
}

func TestUpstreamEveryFieldIsMapped(t *testing.T) {
	out := Translate(input(caSecret("a", "ca", "ca.crt", certPEM), upstream("a", "full", fullSpec()),
		ingress("a", "i", 0, rule("a.com", prefix("/", upstreamBackend("full"))))))
	want := snapshot.Upstream{
		Name: "upstream/a/full",
		Endpoints: []snapshot.Endpoint{
			{Address: "10.0.0.1:8443", Weight: 1}, {Address: "10.0.0.2:8443", Weight: 3}, {Address: "[fd00::7]:8443", Weight: 1}},
		Policy:      snapshot.PolicyWeighted,
		Protocol:    snapshot.ProtocolHTTPS,
		TLS:         snapshot.UpstreamTLS{ServerName: "backend.internal", InsecureSkipVerify: true, CAPEM: certPEM},
		HostRewrite: "backend.internal",
		RequestHeaders: snapshot.HeaderEdits{
			Set:    []snapshot.Header{{Name: "X-Env", Value: "prod"}},
			Add:    []snapshot.Header{{Name: "X-Via", Value: "baton"}, {Name: "X-Via", Value: "edge"}},
			Remove: []string{"X-Internal"},
		},
		Timeouts: snapshot.Timeouts{Connect: time.Second, Response: 30 * time.Second, Idle: time.Minute, Read: 2 * time.Minute},
		Retries:  2,
		HealthCheck: &snapshot.HealthCheck{Path: "/healthz", Interval: 5 * time.Second, Timeout: time.Second,
			HealthyThreshold: 4, UnhealthyThreshold: 5},
		Passive: snapshot.PassiveHealth{ConsecutiveFailures: 7, EjectDuration: time.Minute,
			FailingResponses: snapshot.FailingResponsesGateway},
		Source: "a/full",
	}
	mustEqualJSON(t, "snapshot", out.Snapshot, &snapshot.Snapshot{
		Hosts:     []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "upstream/a/full", "a/i"))},
		Upstreams: []snapshot.Upstream{want},
	})
	mustEqualJSON(t, "ingress warnings", reasons(out, "a/i"), []string{})
	st := findUpstream(t, out, "a/full").Status
	mustEqualJSON(t, "status", st, v1alpha1.UpstreamStatus{
		ObservedGeneration: 3, ReadyEndpoints: 3, TotalEndpoints: 3, Endpoints: "3/3",
		Conditions: []metav1.Condition{
			{Type: "Ready", Status: "True", Reason: "Ready", Message: "3 of 3 endpoints ready", ObservedGeneration: 3},
			{Type: "ResolvedRefs", Status: "True", Reason: "Resolved", Message: "every reference resolved", ObservedGeneration: 3},
		},
	})
}

func TestUpstreamDefaultsWhenTheAPIServerDidNotApplyThem(t *testing.T) {
	spec := static(staticEP("10.0.0.1", 80, 0))
	spec.HealthCheck = &v1alpha1.HealthCheck{Active: &v1alpha1.ActiveHealthCheck{Path: "/"}, Passive: &v1alpha1.PassiveHealthCheck{}}
	out := Translate(input(upstream("a", "u", spec), ingress("a", "i", 0, defaultBackend(upstreamBackend("u")))))
	got := out.Snapshot.Upstreams[0]
	mustEqualJSON(t, "health", got.HealthCheck, &snapshot.HealthCheck{Path: "/", Interval: 10 * time.Second,
		Timeout: 2 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3})
	mustEqualJSON(t, "passive", got.Passive, snapshot.PassiveHealth{EjectDuration: 30 * time.Second,
		FailingResponses: snapshot.FailingResponsesServer})
	if got.Policy != snapshot.PolicyRoundRobin || got.Protocol != snapshot.ProtocolHTTP1 {
		t.Errorf("policy/protocol = %s/%s, want RoundRobin/HTTP/1.1", got.Policy, got.Protocol)
	}
}

func TestUpstreamHealthCheckKinds(t *testing.T) {
	spec := static(staticEP("10.0.0.1", 80, 0))
	spec.Protocol = v1alpha1.ProtocolH2C
	spec.HealthCheck = &v1alpha1.HealthCheck{Active: &v1alpha1.ActiveHealthCheck{GRPC: &v1alpha1.GRPCHealthCheck{Service: "shop.v1.Cart"}}}
	out := Translate(input(upstream("a", "u", spec), ingress("a", "i", 0, defaultBackend(upstreamBackend("u")))))
	mustEqualJSON(t, "health", out.Snapshot.Upstreams[0].HealthCheck, &snapshot.HealthCheck{Interval: 10 * time.Second,
		Timeout: 2 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3, GRPC: true, GRPCService: "shop.v1.Cart"})
	// Without a passive section only connection failures count, as before
	// failingResponses existed.
	mustEqualJSON(t, "passive", out.Snapshot.Upstreams[0].Passive, snapshot.PassiveHealth{})
}

// upstreamCase checks one Upstream's status and whether its snapshot entry
// (when an Ingress uses it) has endpoints.
type upstreamCase struct {
	objs                 []any
	ready, total         int32
	readyCond, refsCond  string // "True" or the False reason
	snapshotAddrs        []string
	ingressWarningReason []string
}

func TestUpstreamStatus(t *testing.T) {
	slice := endpointSlice("a", "svc", "svc-1", map[string]int32{"http": 8080},
		readyEP("10.0.0.1"), unknownEP("10.0.0.2"), notReadyEP("10.0.0.3"))
	svc := service("a", "svc", svcPort("http", 80))
	withCA := func(s corev1.Secret) []any {
		spec := static(staticEP("10.0.0.1", 443, 1))
		spec.Protocol = v1alpha1.ProtocolHTTPS
		spec.TLS = &v1alpha1.UpstreamTLS{CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca", Key: "bundle.pem"}}
		return []any{s, upstream("a", "u", spec)}
	}
	both := static(staticEP("10.0.0.1", 80, 1))
	both.ServiceRef = serviceRef("svc", 80, "").ServiceRef
	badPolicy := static(staticEP("10.0.0.1", 80, 1))
	badPolicy.LoadBalancing.Policy = "Random"
	injection := static(staticEP("10.0.0.1", 80, 1))
	injection.HostRewrite = "a.com\r\nX-Injected: 1"
	tlsWithoutHTTPS := static(staticEP("10.0.0.1", 80, 1))
	tlsWithoutHTTPS.TLS = &v1alpha1.UpstreamTLS{}
	invalid := func(edit func(*v1alpha1.UpstreamSpec)) []any {
		spec := static(staticEP("10.0.0.1", 80, 1))
		spec.Protocol = v1alpha1.ProtocolH2C
		spec.HealthCheck = &v1alpha1.HealthCheck{Active: &v1alpha1.ActiveHealthCheck{GRPC: &v1alpha1.GRPCHealthCheck{}},
			Passive: &v1alpha1.PassiveHealthCheck{}}
		edit(&spec)
		return []any{upstream("a", "u", spec)}
	}
	invalidCase := func(edit func(*v1alpha1.UpstreamSpec)) upstreamCase {
		return upstreamCase{objs: invalid(edit), readyCond: v1alpha1.ReasonInvalidSpec, refsCond: v1alpha1.ReasonInvalidSpec,
			ingressWarningReason: []string{ReasonUpstreamNotReady}}
	}
	cases := map[string]upstreamCase{
		"gRPC check over H2C": {objs: invalid(func(*v1alpha1.UpstreamSpec) {}), ready: 1, total: 1,
			readyCond: "True", refsCond: "True", snapshotAddrs: []string{"10.0.0.1:80"}},
		"gRPC check over HTTP/1.1": invalidCase(func(s *v1alpha1.UpstreamSpec) { s.Protocol = v1alpha1.ProtocolHTTP1 }),
		"gRPC check with a path":   invalidCase(func(s *v1alpha1.UpstreamSpec) { s.HealthCheck.Active.Path = "/" }),
		"gRPC service with a space": invalidCase(func(s *v1alpha1.UpstreamSpec) {
			s.HealthCheck.Active.GRPC.Service = "a b"
		}),
		"unknown failingResponses": invalidCase(func(s *v1alpha1.UpstreamSpec) { s.HealthCheck.Passive.FailingResponses = "All" }),
		"serviceRef by name counts ready and total": {
			objs: []any{svc, slice, upstream("a", "u", serviceRef("svc", 0, "http"))}, ready: 2, total: 3,
			readyCond: "True", refsCond: "True", snapshotAddrs: []string{"10.0.0.1:8080", "10.0.0.2:8080"},
		},
		"serviceRef by number": {
			objs: []any{svc, slice, upstream("a", "u", serviceRef("svc", 80, ""))}, ready: 2, total: 3,
			readyCond: "True", refsCond: "True", snapshotAddrs: []string{"10.0.0.1:8080", "10.0.0.2:8080"},
		},
		"serviceRef with no ready endpoints": {
			objs: []any{svc, endpointSlice("a", "svc", "svc-1", map[string]int32{"http": 8080}, notReadyEP("10.0.0.3")),
				upstream("a", "u", serviceRef("svc", 80, ""))}, ready: 0, total: 1,
			readyCond: ReasonNoReadyEndpoints, refsCond: "True",
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"missing Service": {
			objs:      []any{upstream("a", "u", serviceRef("svc", 80, ""))},
			readyCond: ReasonServiceNotFound, refsCond: ReasonServiceNotFound,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"missing Service port": {
			objs:      []any{svc, slice, upstream("a", "u", serviceRef("svc", 81, ""))},
			readyCond: ReasonPortNotFound, refsCond: ReasonPortNotFound,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"CA from a named key": {
			objs: withCA(caSecret("a", "ca", "bundle.pem", certPEM)), ready: 1, total: 1,
			readyCond: "True", refsCond: "True", snapshotAddrs: []string{"10.0.0.1:443"},
		},
		"missing CA Secret fails closed": {
			objs: withCA(caSecret("a", "other", "bundle.pem", certPEM)), ready: 1, total: 1,
			readyCond: v1alpha1.ReasonSecretNotFound, refsCond: v1alpha1.ReasonSecretNotFound,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"CA key missing": {
			objs: withCA(caSecret("a", "ca", "ca.crt", certPEM)), ready: 1, total: 1,
			readyCond: v1alpha1.ReasonInvalidSecret, refsCond: v1alpha1.ReasonInvalidSecret,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"CA not PEM": {
			objs: withCA(caSecret("a", "ca", "bundle.pem", []byte("junk"))), ready: 1, total: 1,
			readyCond: v1alpha1.ReasonInvalidSecret, refsCond: v1alpha1.ReasonInvalidSecret,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"both endpoints and serviceRef": {
			objs:      []any{svc, slice, upstream("a", "u", both)},
			readyCond: v1alpha1.ReasonInvalidSpec, refsCond: v1alpha1.ReasonInvalidSpec,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"neither endpoints nor serviceRef": {
			objs:      []any{upstream("a", "u", v1alpha1.UpstreamSpec{})},
			readyCond: v1alpha1.ReasonInvalidSpec, refsCond: v1alpha1.ReasonInvalidSpec,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"unknown policy": {
			objs:      []any{upstream("a", "u", badPolicy)},
			readyCond: v1alpha1.ReasonInvalidSpec, refsCond: v1alpha1.ReasonInvalidSpec,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"hostRewrite with CRLF": {
			objs:      []any{upstream("a", "u", injection)},
			readyCond: v1alpha1.ReasonInvalidSpec, refsCond: v1alpha1.ReasonInvalidSpec,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
		"tls without HTTPS": {
			objs:      []any{upstream("a", "u", tlsWithoutHTTPS)},
			readyCond: v1alpha1.ReasonInvalidSpec, refsCond: v1alpha1.ReasonInvalidSpec,
			ingressWarningReason: []string{ReasonUpstreamNotReady},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { checkUpstream(t, tc) })
	}
}

func checkUpstream(t *testing.T, tc upstreamCase) {
	t.Helper()
	in := input(with(tc.objs, ingress("a", "i", 0, rule("a.com", prefix("/", upstreamBackend("u")))))...)
	out := Translate(in)
	st := findUpstream(t, out, "a/u").Status
	if st.ReadyEndpoints != tc.ready || st.TotalEndpoints != tc.total {
		t.Errorf("endpoints %d/%d, want %d/%d", st.ReadyEndpoints, st.TotalEndpoints, tc.ready, tc.total)
	}
	for i, want := range []string{tc.readyCond, tc.refsCond} {
		c := st.Conditions[i]
		got := c.Reason
		if c.Status == metav1.ConditionTrue {
			got = "True"
		}
		if got != want || c.ObservedGeneration != 3 {
			t.Errorf("condition %s = %+v, want %s at generation 3", c.Type, c, want)
		}
	}
	// The route is kept whatever the Upstream's state: it answers 503
	// rather than falling through to another route.
	mustEqualJSON(t, "hosts", out.Snapshot.Hosts, []snapshot.VirtualHost{vhost("a.com", prefixRoute("/", "upstream/a/u", "a/i"))})
	var addrs []string
	for _, e := range out.Snapshot.Upstreams[0].Endpoints {
		addrs = append(addrs, e.Address)
	}
	mustEqualJSON(t, "snapshot endpoints", addrs, tc.snapshotAddrs)
	want := tc.ingressWarningReason
	if want == nil {
		want = []string{}
	}
	mustEqualJSON(t, "ingress warnings", reasons(out, "a/i"), want)
}

func TestUnusedUpstreamGetsStatusButNoSnapshotEntry(t *testing.T) {
	out := Translate(input(upstream("a", "idle", static(staticEP("10.0.0.1", 80, 1))),
		upstream("b", "broken", v1alpha1.UpstreamSpec{})))
	if len(out.Snapshot.Upstreams) != 0 {
		t.Errorf("snapshot upstreams = %+v, want none: no route uses them", out.Snapshot.Upstreams)
	}
	mustEqualJSON(t, "results", []string{out.Upstreams[0].Key.String(), out.Upstreams[1].Key.String()},
		[]string{"a/idle", "b/broken"})
	if got := out.Upstreams[0].Status.Endpoints; got != "1/1" {
		t.Errorf("a/idle endpoints column = %q, want 1/1", got)
	}
	w := out.Upstreams[1].Warnings
	if len(w) != 1 || w[0].Reason != v1alpha1.ReasonInvalidSpec ||
		w[0].Message != `Upstream "b/broken" is invalid: exactly one of endpoints or serviceRef must be set` {
		t.Errorf("b/broken warnings = %+v", w)
	}
}
