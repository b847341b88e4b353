package translate

import (
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// upstreamSettings converts everything in spec that needs no other object.
// The CRD schema already rejects what this rejects; the checks are repeated
// because objects may reach Translate without passing the API server (and
// the CRD may be older than the controller). A static endpoint the address
// policy forbids is a *forbiddenEndpointError.
func upstreamSettings(key types.NamespacedName, spec *v1alpha1.UpstreamSpec, allowLoopback bool) (snapshot.Upstream, error) {
	up := snapshot.Upstream{
		Name:        "upstream/" + key.Namespace + "/" + key.Name,
		Source:      key.String(),
		HostRewrite: spec.HostRewrite,
		Retries:     int(spec.Retries),
	}
	if (len(spec.Endpoints) > 0) == (spec.ServiceRef != nil) {
		return up, errors.New("exactly one of endpoints or serviceRef must be set")
	}
	if err := checkScalars(spec); err != nil {
		return up, err
	}
	var err error
	if up.Endpoints, err = staticEndpoints(spec.Endpoints, allowLoopback); err != nil {
		return up, err
	}
	if up.Policy, err = convertPolicy(spec.LoadBalancing.Policy); err != nil {
		return up, err
	}
	if up.Protocol, up.TLS, err = convertProtocol(spec.Protocol, spec.TLS); err != nil {
		return up, err
	}
	if up.RequestHeaders, err = convertHeaders(spec.RequestHeaders); err != nil {
		return up, err
	}
	if up.Timeouts, err = convertTimeouts(spec.Timeouts); err != nil {
		return up, err
	}
	up.HealthCheck, up.Passive, err = convertHealth(spec.HealthCheck, up.Protocol)
	return up, err
}

// checkScalars guards the plain fields the data plane copies into requests
// and handshakes.
func checkScalars(spec *v1alpha1.UpstreamSpec) error {
	if spec.Retries < 0 || spec.Retries > v1alpha1.MaxRetries {
		return fmt.Errorf("retries %d is not between 0 and %d", spec.Retries, v1alpha1.MaxRetries)
	}
	if strings.ContainsAny(spec.HostRewrite, " \t\r\n\x00/") {
		return fmt.Errorf("hostRewrite %q is not a host name", spec.HostRewrite)
	}
	if spec.TLS != nil && strings.ContainsAny(spec.TLS.ServerName, " \t\r\n\x00/:") {
		return fmt.Errorf("tls.serverName %q is not a host name", spec.TLS.ServerName)
	}
	return nil
}

func convertPolicy(p v1alpha1.Policy) (snapshot.Policy, error) {
	switch p {
	case "", v1alpha1.PolicyRoundRobin:
		return snapshot.PolicyRoundRobin, nil
	case v1alpha1.PolicyWeightedRoundRobin:
		return snapshot.PolicyWeighted, nil
	case v1alpha1.PolicyLeastRequest:
		return snapshot.PolicyLeastRequest, nil
	}
	return "", fmt.Errorf("unknown loadBalancing policy %q", p)
}

// convertProtocol also carries the TLS settings except the CA, which needs
// a Secret.
func convertProtocol(p v1alpha1.Protocol, t *v1alpha1.UpstreamTLS) (snapshot.Protocol, snapshot.UpstreamTLS, error) {
	var proto snapshot.Protocol
	switch p {
	case "", v1alpha1.ProtocolHTTP1:
		proto = snapshot.ProtocolHTTP1
	case v1alpha1.ProtocolH2C:
		proto = snapshot.ProtocolH2C
	case v1alpha1.ProtocolHTTPS:
		proto = snapshot.ProtocolHTTPS
	default:
		return "", snapshot.UpstreamTLS{}, fmt.Errorf("unknown protocol %q", p)
	}
	if t == nil {
		return proto, snapshot.UpstreamTLS{}, nil
	}
	if proto != snapshot.ProtocolHTTPS {
		return "", snapshot.UpstreamTLS{}, fmt.Errorf("tls is only allowed with protocol %s", v1alpha1.ProtocolHTTPS)
	}
	return proto, snapshot.UpstreamTLS{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}, nil
}

func convertHeaders(h *v1alpha1.HeaderEdits) (snapshot.HeaderEdits, error) {
	var out snapshot.HeaderEdits
	if h == nil {
		return out, nil
	}
	var err error
	if out.Set, err = convertHeaderList(h.Set); err != nil {
		return out, err
	}
	if out.Add, err = convertHeaderList(h.Add); err != nil {
		return out, err
	}
	for _, name := range h.Remove {
		if !validHeaderName(name) {
			return out, fmt.Errorf("header name %q to remove is not a valid token", name)
		}
		out.Remove = append(out.Remove, name)
	}
	return out, nil
}

func convertHeaderList(hs []v1alpha1.Header) ([]snapshot.Header, error) {
	var out []snapshot.Header
	for _, h := range hs {
		if !validHeaderName(h.Name) {
			return nil, fmt.Errorf("header name %q is not a valid token", h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return nil, fmt.Errorf("value of header %q contains CR, LF or NUL", h.Name)
		}
		out = append(out, snapshot.Header{Name: h.Name, Value: h.Value})
	}
	return out, nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		ok := c < 0x7f && c > ' ' && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
		if !ok {
			return false
		}
	}
	return true
}

func convertTimeouts(t *v1alpha1.Timeouts) (snapshot.Timeouts, error) {
	var out snapshot.Timeouts
	if t == nil {
		return out, nil
	}
	var err error
	if out.Connect, err = duration("timeouts.connect", t.Connect, 0); err != nil {
		return out, err
	}
	if out.Response, err = duration("timeouts.response", t.Response, 0); err != nil {
		return out, err
	}
	if out.Idle, err = duration("timeouts.idle", t.Idle, 0); err != nil {
		return out, err
	}
	out.Read, err = duration("timeouts.read", t.Read, 0)
	return out, err
}

// duration returns d, or def when d is unset; negative durations are
// errors.
func duration(field string, d *metav1.Duration, def time.Duration) (time.Duration, error) {
	if d == nil {
		return def, nil
	}
	if d.Duration < 0 {
		return 0, fmt.Errorf("%s %s is negative", field, d.Duration)
	}
	return d.Duration, nil
}

func convertHealth(h *v1alpha1.HealthCheck, proto snapshot.Protocol) (*snapshot.HealthCheck, snapshot.PassiveHealth, error) {
	if h == nil {
		return nil, snapshot.PassiveHealth{}, nil
	}
	passive, err := convertPassive(h.Passive)
	if err != nil || h.Active == nil {
		return nil, passive, err
	}
	active, err := convertActive(h.Active, proto)
	return active, passive, err
}

func convertActive(a *v1alpha1.ActiveHealthCheck, proto snapshot.Protocol) (*snapshot.HealthCheck, error) {
	if err := checkActiveKind(a, proto); err != nil {
		return nil, err
	}
	interval, err := duration("healthCheck.active.interval", a.Interval, v1alpha1.DefaultInterval)
	if err != nil {
		return nil, err
	}
	timeout, err := duration("healthCheck.active.timeout", a.Timeout, v1alpha1.DefaultCheckTimeout)
	if err != nil {
		return nil, err
	}
	if interval == 0 || timeout == 0 || timeout > interval {
		return nil, fmt.Errorf("healthCheck.active needs 0 < timeout (%s) <= interval (%s)", timeout, interval)
	}
	if a.HealthyThreshold < 0 || a.UnhealthyThreshold < 0 {
		return nil, errors.New("healthCheck.active thresholds must not be negative")
	}
	hc := &snapshot.HealthCheck{
		Path:               a.Path,
		Interval:           interval,
		Timeout:            timeout,
		HealthyThreshold:   orDefault(a.HealthyThreshold, v1alpha1.DefaultHealthyThreshold),
		UnhealthyThreshold: orDefault(a.UnhealthyThreshold, v1alpha1.DefaultUnhealthyThreshold),
	}
	if a.GRPC != nil {
		hc.GRPC, hc.GRPCService = true, a.GRPC.Service
	}
	return hc, nil
}

// checkActiveKind checks that the check is an HTTP GET of a path or a gRPC
// call over HTTP/2, not both.
func checkActiveKind(a *v1alpha1.ActiveHealthCheck, proto snapshot.Protocol) error {
	if a.GRPC == nil {
		if !strings.HasPrefix(a.Path, "/") {
			return fmt.Errorf("healthCheck.active.path %q must start with '/'", a.Path)
		}
		return nil
	}
	if a.Path != "" {
		return errors.New("healthCheck.active: exactly one of path or grpc must be set")
	}
	if proto == snapshot.ProtocolHTTP1 {
		return fmt.Errorf("healthCheck.active.grpc needs protocol %s or %s: gRPC is HTTP/2", v1alpha1.ProtocolH2C, v1alpha1.ProtocolHTTPS)
	}
	if len(a.GRPC.Service) > 256 || strings.IndexFunc(a.GRPC.Service, func(r rune) bool { return r < '!' || r > '~' }) >= 0 {
		return fmt.Errorf("healthCheck.active.grpc.service %q must be at most 256 visible ASCII characters", a.GRPC.Service)
	}
	return nil
}

func convertPassive(p *v1alpha1.PassiveHealthCheck) (snapshot.PassiveHealth, error) {
	if p == nil {
		return snapshot.PassiveHealth{}, nil
	}
	if p.ConsecutiveFailures < 0 {
		return snapshot.PassiveHealth{}, fmt.Errorf("healthCheck.passive.consecutiveFailures %d is negative", p.ConsecutiveFailures)
	}
	eject, err := duration("healthCheck.passive.ejectDuration", p.EjectDuration, v1alpha1.DefaultEjectDuration)
	if err != nil {
		return snapshot.PassiveHealth{}, err
	}
	failing, err := convertFailingResponses(p.FailingResponses)
	return snapshot.PassiveHealth{ConsecutiveFailures: int(p.ConsecutiveFailures), EjectDuration: eject,
		FailingResponses: failing}, err
}

func convertFailingResponses(f v1alpha1.FailingResponses) (snapshot.FailingResponses, error) {
	switch f {
	case "", v1alpha1.FailingResponsesServerErrors: // "" is the CRD default, for objects that skipped it
		return snapshot.FailingResponsesServer, nil
	case v1alpha1.FailingResponsesGatewayErrors:
		return snapshot.FailingResponsesGateway, nil
	case v1alpha1.FailingResponsesNone:
		return snapshot.FailingResponsesNone, nil
	}
	return "", fmt.Errorf("unknown healthCheck.passive.failingResponses %q", f)
}

func orDefault(v int32, def int) int {
	if v == 0 {
		return def
	}
	return int(v)
}
