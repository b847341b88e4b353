package translate

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// translateUpstreams translates every Upstream, whether or not an Ingress
// uses it, so each gets a status.
func (t *translator) translateUpstreams(items []v1alpha1.Upstream) []UpstreamResult {
	results := make([]UpstreamResult, 0, len(items))
	for _, u := range sortedObjects(items) {
		key := keyOf(u)
		if _, dup := t.built[key]; dup {
			continue
		}
		up, res := t.translateUpstream(u)
		t.built[key] = builtUpstream{upstream: up, ready: res.Status.Conditions[0]}
		results = append(results, res)
	}
	return results
}

// upstreamOutcome is what translating one Upstream found.
type upstreamOutcome struct {
	ready, total int
	invalid      *Warning
	refs         []Warning
	// dropped reports EndpointSlice addresses the address policy refused.
	dropped *Warning
}

// translateUpstream builds the snapshot upstream and status of u. An
// Upstream with an invalid spec or an unresolved reference gets no
// endpoints: failing closed beats, say, dropping a CA the user asked for.
func (t *translator) translateUpstream(u *v1alpha1.Upstream) (snapshot.Upstream, UpstreamResult) {
	key := keyOf(u)
	up, err := upstreamSettings(key, &u.Spec, t.idx.allowLoopback)
	var o upstreamOutcome
	if err != nil {
		o.invalid = invalidSpec(key, err)
		up = snapshot.Upstream{Name: up.Name, Source: up.Source,
			Policy: snapshot.PolicyRoundRobin, Protocol: snapshot.ProtocolHTTP1}
	} else {
		t.resolveUpstream(u, &up, &o)
	}
	if o.invalid != nil || len(o.refs) > 0 {
		up.Endpoints = nil
	}
	status := o.status(u.Generation)
	return up, UpstreamResult{Key: key, Status: status, Warnings: o.warnings(key)}
}

func invalidSpec(key types.NamespacedName, err error) *Warning {
	if _, ok := errors.AsType[*forbiddenEndpointError](err); ok {
		return warnf(ReasonForbiddenEndpoint, "Upstream %q is not used: %v", key, err)
	}
	return warnf(v1alpha1.ReasonInvalidSpec, "Upstream %q is invalid: %v", key, err)
}

// resolveUpstream finds the endpoints of a serviceRef and the CA Secret.
func (t *translator) resolveUpstream(u *v1alpha1.Upstream, up *snapshot.Upstream, o *upstreamOutcome) {
	o.ready, o.total = len(up.Endpoints), len(up.Endpoints)
	if ref := u.Spec.ServiceRef; ref != nil {
		use := t.service(u.Namespace, ref.Name, portRef{number: ref.Port.Number, name: ref.Port.Name})
		if w := use.failed; w != nil {
			o.refs = append(o.refs, *w)
		}
		sp := use.sp
		up.Endpoints, o.ready, o.total = sp.ready, len(sp.ready), sp.total
		if len(sp.forbidden) > 0 {
			o.dropped = warnf(ReasonForbiddenEndpoint, "Service %q lists endpoint addresses Baton refuses, dropped: %s",
				sp.key, sp.forbidden.describe())
		}
	}
	if tlsSpec := u.Spec.TLS; tlsSpec != nil && tlsSpec.CASecretRef != nil {
		ca, w := t.loadCA(types.NamespacedName{Namespace: u.Namespace, Name: tlsSpec.CASecretRef.Name}, tlsSpec.CASecretRef.Key)
		if w != nil {
			o.refs = append(o.refs, *w)
		}
		up.TLS.CAPEM = ca
	}
}

// loadCA reads PEM certificates from a Secret key of any type.
func (t *translator) loadCA(key types.NamespacedName, dataKey string) ([]byte, *Warning) {
	if dataKey == "" {
		dataKey = v1alpha1.DefaultCAKey
	}
	s, ok := t.idx.secrets[key]
	if !ok {
		return nil, warnf(v1alpha1.ReasonSecretNotFound, "CA Secret %q not found", key)
	}
	data := s.Data[dataKey]
	if len(data) == 0 {
		return nil, warnf(v1alpha1.ReasonInvalidSecret, "CA Secret %q has no key %q", key, dataKey)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return nil, warnf(v1alpha1.ReasonInvalidSecret, "CA Secret %q key %q holds no PEM certificate", key, dataKey)
	}
	return bytes.Clone(data), nil
}

func (o *upstreamOutcome) status(gen int64) v1alpha1.UpstreamStatus {
	return v1alpha1.UpstreamStatus{
		ObservedGeneration: gen,
		Conditions:         []metav1.Condition{o.readyCondition(gen), o.resolvedCondition(gen)},
		ReadyEndpoints:     int32(o.ready),
		TotalEndpoints:     int32(o.total),
		Endpoints:          fmt.Sprintf("%d/%d", o.ready, o.total),
	}
}

func (o *upstreamOutcome) readyCondition(gen int64) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: gen}
	switch {
	case o.invalid != nil:
		c.Reason, c.Message = o.invalid.Reason, o.invalid.Message
	case len(o.refs) > 0:
		c.Reason, c.Message = o.refs[0].Reason, o.refs[0].Message
	case o.ready == 0 && o.dropped != nil:
		c.Reason, c.Message = o.dropped.Reason, o.dropped.Message
	case o.ready == 0:
		c.Reason = v1alpha1.ReasonNoReadyEndpoints
		c.Message = fmt.Sprintf("none of %d endpoints is ready; requests answer 503", o.total)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonReady
		c.Message = fmt.Sprintf("%d of %d endpoints ready", o.ready, o.total)
	}
	return c
}

func (o *upstreamOutcome) resolvedCondition(gen int64) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionResolvedRefs, Status: metav1.ConditionTrue,
		Reason: v1alpha1.ReasonResolved, Message: "every reference resolved", ObservedGeneration: gen}
	switch {
	case o.invalid != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, o.invalid.Reason, "references were not resolved: the spec is invalid"
	case len(o.refs) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, o.refs[0].Reason, o.refs[0].Message
	}
	return c
}

func (o *upstreamOutcome) warnings(key types.NamespacedName) []Warning {
	var ws []Warning
	if o.invalid != nil {
		ws = append(ws, *o.invalid)
	}
	ws = append(ws, o.refs...)
	if o.dropped != nil {
		ws = append(ws, *o.dropped)
	}
	if o.invalid == nil && len(o.refs) == 0 && o.ready == 0 {
		ws = append(ws, *warnf(v1alpha1.ReasonNoReadyEndpoints, "Upstream %q has no ready endpoints", key))
	}
	return ws
}

// staticEndpoints converts spec endpoints, sorted by address.
func staticEndpoints(eps []v1alpha1.StaticEndpoint, allowLoopback bool) ([]snapshot.Endpoint, error) {
	var out []snapshot.Endpoint
	for _, ep := range eps {
		addr, err := netip.ParseAddr(ep.Address)
		if err != nil || addr.Zone() != "" {
			return nil, fmt.Errorf("endpoint address %q is not an IP address", ep.Address)
		}
		if class := forbiddenClass(addr, allowLoopback); class != "" {
			return nil, &forbiddenEndpointError{addr: addr, class: class}
		}
		if ep.Port < 1 || ep.Port > 65535 {
			return nil, fmt.Errorf("endpoint %s: port %d is out of range", ep.Address, ep.Port)
		}
		if ep.Weight < 0 {
			return nil, fmt.Errorf("endpoint %s: weight %d is negative", ep.Address, ep.Weight)
		}
		ap := netip.AddrPortFrom(addr.Unmap(), uint16(ep.Port)).String()
		out = append(out, snapshot.Endpoint{Address: ap, Weight: max(int(ep.Weight), 1)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	for i := 1; i < len(out); i++ {
		if out[i].Address == out[i-1].Address {
			return nil, fmt.Errorf("endpoint %s is listed twice", out[i].Address)
		}
	}
	return out, nil
}
