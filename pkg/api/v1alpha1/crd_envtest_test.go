//go:build envtest

package v1alpha1_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// TestCRDAgainstAPIServer installs config/crd into a real kube-apiserver
// (bin/, or KUBEBUILDER_ASSETS) and checks that the schema, CEL rules and
// defaults behave as the markers intend.
func TestCRDAgainstAPIServer(t *testing.T) {
	c, env := startAPIServer(t)
	ctx := context.Background()

	t.Run("defaults", func(t *testing.T) {
		u := newUpstream("defaults", v1alpha1.UpstreamSpec{
			Endpoints:   []v1alpha1.StaticEndpoint{{Address: "10.0.0.1", Port: 80}},
			HealthCheck: &v1alpha1.HealthCheck{Active: &v1alpha1.ActiveHealthCheck{Path: "/healthz"}, Passive: &v1alpha1.PassiveHealthCheck{}},
		})
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("create: %v", err)
		}
		s := u.Spec
		a := s.HealthCheck.Active
		checks := map[string]bool{
			"policy RoundRobin":     s.LoadBalancing.Policy == v1alpha1.PolicyRoundRobin,
			"protocol HTTP/1.1":     s.Protocol == v1alpha1.ProtocolHTTP1,
			"weight 1":              s.Endpoints[0].Weight == 1,
			"interval 10s":          a.Interval != nil && a.Interval.Duration == v1alpha1.DefaultInterval,
			"timeout 2s":            a.Timeout != nil && a.Timeout.Duration == v1alpha1.DefaultCheckTimeout,
			"healthyThreshold 2":    a.HealthyThreshold == v1alpha1.DefaultHealthyThreshold,
			"unhealthyThreshold 3":  a.UnhealthyThreshold == v1alpha1.DefaultUnhealthyThreshold,
			"ejectDuration 30s":     s.HealthCheck.Passive.EjectDuration != nil && s.HealthCheck.Passive.EjectDuration.Duration == v1alpha1.DefaultEjectDuration,
			"failingResponses":      s.HealthCheck.Passive.FailingResponses == v1alpha1.FailingResponsesServerErrors,
			"generation is counted": u.Generation == 1,
		}
		for what, ok := range checks {
			if !ok {
				t.Errorf("%s: not applied; spec = %+v", what, s)
			}
		}
	})

	t.Run("CA key default", func(t *testing.T) {
		u := newUpstream("ca", v1alpha1.UpstreamSpec{
			ServiceRef: &v1alpha1.ServiceRef{Name: "web", Port: v1alpha1.ServicePort{Name: "https"}},
			Protocol:   v1alpha1.ProtocolHTTPS,
			TLS:        &v1alpha1.UpstreamTLS{ServerName: "web.internal", CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca"}},
		})
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("create: %v", err)
		}
		if u.Spec.TLS.CASecretRef.Key != v1alpha1.DefaultCAKey {
			t.Errorf("caSecretRef.key = %q, want %q", u.Spec.TLS.CASecretRef.Key, v1alpha1.DefaultCAKey)
		}
	})

	t.Run("gRPC check over H2C", func(t *testing.T) {
		u := newUpstream("grpc", v1alpha1.UpstreamSpec{
			Endpoints: []v1alpha1.StaticEndpoint{{Address: "10.0.0.1", Port: 80}}, Protocol: v1alpha1.ProtocolH2C,
			HealthCheck: &v1alpha1.HealthCheck{Active: &v1alpha1.ActiveHealthCheck{GRPC: &v1alpha1.GRPCHealthCheck{Service: "shop.v1.Cart"}}},
		})
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("create: %v", err)
		}
	})

	t.Run("status subresource", func(t *testing.T) { checkStatusSubresource(t, c) })
	t.Run("kubectl get columns", func(t *testing.T) { checkPrinterColumns(t, env) })
	t.Run("unicast and loopback addresses", func(t *testing.T) { checkAcceptedAddresses(t, c) })

	for name, tc := range rejected() {
		t.Run("rejects "+name, func(t *testing.T) {
			err := c.Create(ctx, newUpstream("bad", tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("create error = %v, want one containing %q", err, tc.message)
			}
		})
	}
}

type rejection struct {
	spec    v1alpha1.UpstreamSpec
	message string
}

func rejected() map[string]rejection {
	ep := []v1alpha1.StaticEndpoint{{Address: "10.0.0.1", Port: 80}}
	ref := &v1alpha1.ServiceRef{Name: "web", Port: v1alpha1.ServicePort{Number: 80}}
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	m := map[string]rejection{
		"both endpoints and serviceRef":    {v1alpha1.UpstreamSpec{Endpoints: ep, ServiceRef: ref}, "exactly one of endpoints or serviceRef"},
		"neither endpoints nor serviceRef": {v1alpha1.UpstreamSpec{}, "exactly one of endpoints or serviceRef"},
		"a host name as address": {v1alpha1.UpstreamSpec{Endpoints: []v1alpha1.StaticEndpoint{{Address: "web.local", Port: 80}}},
			"address must be an IP address"},
		"port above 65535":   {v1alpha1.UpstreamSpec{Endpoints: []v1alpha1.StaticEndpoint{{Address: "10.0.0.1", Port: 70000}}}, "65535"},
		"duplicate endpoint": {v1alpha1.UpstreamSpec{Endpoints: append(ep, ep[0])}, "Duplicate value"},
		"port by number and name": {v1alpha1.UpstreamSpec{ServiceRef: &v1alpha1.ServiceRef{Name: "web",
			Port: v1alpha1.ServicePort{Number: 80, Name: "http"}}}, "exactly one of number or name"},
		"unknown policy":    {v1alpha1.UpstreamSpec{Endpoints: ep, LoadBalancing: v1alpha1.LoadBalancing{Policy: "Random"}}, "Unsupported value"},
		"unknown protocol":  {v1alpha1.UpstreamSpec{Endpoints: ep, Protocol: "HTTP/3"}, "Unsupported value"},
		"tls without HTTPS": {v1alpha1.UpstreamSpec{Endpoints: ep, TLS: &v1alpha1.UpstreamTLS{}}, "tls is only allowed with protocol HTTPS"},
		"header value with CRLF": {v1alpha1.UpstreamSpec{Endpoints: ep, RequestHeaders: &v1alpha1.HeaderEdits{
			Set: []v1alpha1.Header{{Name: "X-A", Value: "a\r\nInjected: 1"}}}}, "requestHeaders.set[0].value"},
		"header name with a space": {v1alpha1.UpstreamSpec{Endpoints: ep, RequestHeaders: &v1alpha1.HeaderEdits{
			Remove: []string{"X A"}}}, "requestHeaders.remove[0]"},
		"negative timeout": {v1alpha1.UpstreamSpec{Endpoints: ep, Timeouts: &v1alpha1.Timeouts{Connect: d(-time.Second)}}, "timeouts.connect"},
		"check timeout above interval": {v1alpha1.UpstreamSpec{Endpoints: ep, HealthCheck: &v1alpha1.HealthCheck{
			Active: &v1alpha1.ActiveHealthCheck{Path: "/", Interval: d(time.Second), Timeout: d(5 * time.Second)}}},
			"timeout must not exceed interval"},
		"check path without slash": {v1alpha1.UpstreamSpec{Endpoints: ep, HealthCheck: &v1alpha1.HealthCheck{
			Active: &v1alpha1.ActiveHealthCheck{Path: "healthz"}}}, "healthCheck.active.path"},
		"too many retries": {v1alpha1.UpstreamSpec{Endpoints: ep, Retries: 11}, "spec.retries"},
		"gRPC check over HTTP/1.1": {v1alpha1.UpstreamSpec{Endpoints: ep, HealthCheck: &v1alpha1.HealthCheck{
			Active: &v1alpha1.ActiveHealthCheck{GRPC: &v1alpha1.GRPCHealthCheck{}}}}, "gRPC health checks need protocol H2C or HTTPS"},
		"check with path and gRPC": {v1alpha1.UpstreamSpec{Endpoints: ep, Protocol: v1alpha1.ProtocolH2C, HealthCheck: &v1alpha1.HealthCheck{
			Active: &v1alpha1.ActiveHealthCheck{Path: "/", GRPC: &v1alpha1.GRPCHealthCheck{}}}}, "exactly one of path or grpc"},
		"check with neither path nor gRPC": {v1alpha1.UpstreamSpec{Endpoints: ep, HealthCheck: &v1alpha1.HealthCheck{
			Active: &v1alpha1.ActiveHealthCheck{}}}, "exactly one of path or grpc"},
		"gRPC service with a space": {v1alpha1.UpstreamSpec{Endpoints: ep, Protocol: v1alpha1.ProtocolH2C, HealthCheck: &v1alpha1.HealthCheck{
			Active: &v1alpha1.ActiveHealthCheck{GRPC: &v1alpha1.GRPCHealthCheck{Service: "a b"}}}}, "healthCheck.active.grpc.service"},
		"unknown failingResponses": {v1alpha1.UpstreamSpec{Endpoints: ep, HealthCheck: &v1alpha1.HealthCheck{
			Passive: &v1alpha1.PassiveHealthCheck{FailingResponses: "All"}}}, "Unsupported value"},
	}
	// Never a backend, whatever the controller's flags: CEL's IP library
	// refuses them (and IPv4-mapped forms, through isIP).
	const unicast = "address must be a unicast address that is not link-local"
	for addr, message := range map[string]string{
		"0.0.0.0": unicast, "::": unicast, "224.0.0.1": unicast, "239.1.2.3": unicast, "ff02::1": unicast,
		"ff05::2": unicast, "255.255.255.255": unicast, "169.254.169.254": unicast, "fe80::1": unicast,
		"::ffff:127.0.0.1": "address must be an IP address", "::ffff:169.254.169.254": "address must be an IP address",
	} {
		m["address "+addr] = rejection{v1alpha1.UpstreamSpec{Endpoints: []v1alpha1.StaticEndpoint{{Address: addr, Port: 80}}},
			fmt.Sprintf("spec.endpoints[0].address: Invalid value: %q: %s", addr, message)}
	}
	return m
}

// checkAcceptedAddresses: loopback passes the schema, since only the
// controller knows whether it may be used.
func checkAcceptedAddresses(t *testing.T, c client.Client) {
	for i, addr := range []string{"10.0.0.1", "203.0.113.7", "fd00::1", "2001:db8::1", "127.0.0.1", "::1"} {
		u := newUpstream(fmt.Sprintf("ok-%d", i), v1alpha1.UpstreamSpec{Endpoints: []v1alpha1.StaticEndpoint{{Address: addr, Port: 80}}})
		if err := c.Create(context.Background(), u); err != nil {
			t.Errorf("address %s: %v", addr, err)
		}
	}
}

func checkStatusSubresource(t *testing.T, c client.Client) {
	ctx := context.Background()
	u := newUpstream("status", v1alpha1.UpstreamSpec{Endpoints: []v1alpha1.StaticEndpoint{{Address: "fd00::1", Port: 443}}})
	if err := c.Create(ctx, u); err != nil {
		t.Fatalf("create: %v", err)
	}
	u.Status = v1alpha1.UpstreamStatus{ObservedGeneration: 1, ReadyEndpoints: 1, TotalEndpoints: 1, Endpoints: "1/1",
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonReady, Message: "1 of 1 endpoints ready", LastTransitionTime: metav1.Now()}}}
	if err := c.Status().Update(ctx, u); err != nil {
		t.Fatalf("status update: %v", err)
	}
	var got v1alpha1.Upstream
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Status.Endpoints != "1/1" || got.Generation != 1 {
		t.Errorf("after status update: status %+v, generation %d (a status write must not bump it)", got.Status, got.Generation)
	}
}

func newUpstream(name string, spec v1alpha1.UpstreamSpec) *v1alpha1.Upstream {
	return &v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: spec}
}

// checkPrinterColumns runs kubectl against the API server and reads the
// columns of the Upstream written by checkStatusSubresource.
func checkPrinterColumns(t *testing.T, env *envtest.Environment) {
	kubectl := env.ControlPlane.KubeCtl()
	stdout, stderr, err := kubectl.Run("get", "bup", "status", "-n", "default")
	if err != nil {
		errText, _ := io.ReadAll(stderr)
		t.Fatalf("kubectl get: %v: %s", err, errText)
	}
	out, _ := io.ReadAll(stdout)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get printed %q, want a header and one row", out)
	}
	header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	wantHeader := []string{"NAME", "READY", "ENDPOINTS", "POLICY", "AGE"}
	if strings.Join(header, " ") != strings.Join(wantHeader, " ") || len(row) != 5 ||
		strings.Join(row[:4], " ") != "status True 1/1 RoundRobin" {
		t.Errorf("kubectl get printed\n%s\nwant columns %v with status True 1/1 RoundRobin", out, wantHeader)
	}
}

func startAPIServer(t *testing.T) (client.Client, *envtest.Environment) {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, env
}
