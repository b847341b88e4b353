package gateway

import (
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// filters converts a rule's filters; nil when there are none.
func (t *translator) filters(rt *routeTranslation, fs []gatewayv1.HTTPRouteFilter) (*snapshot.RouteFilters, *problem) {
	if len(fs) == 0 {
		return nil, nil
	}
	out := &snapshot.RouteFilters{}
	for i := range fs {
		if p := t.filter(rt, out, &fs[i]); p != nil {
			return nil, p
		}
	}
	return out, nil
}

func (t *translator) filter(rt *routeTranslation, out *snapshot.RouteFilters, f *gatewayv1.HTTPRouteFilter) *problem {
	var p *problem
	switch {
	case f.Type == gatewayv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
		out.RequestHeaders, p = headerEdits(f.RequestHeaderModifier)
	case f.Type == gatewayv1.HTTPRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
		out.ResponseHeaders, p = headerEdits(f.ResponseHeaderModifier)
	case f.Type == gatewayv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil:
		out.Redirect, p = redirect(f.RequestRedirect)
	case f.Type == gatewayv1.HTTPRouteFilterURLRewrite && f.URLRewrite != nil:
		out.Rewrite = &snapshot.Rewrite{Path: pathModifier(f.URLRewrite.Path)}
		if f.URLRewrite.Hostname != nil {
			out.Rewrite.Hostname = string(*f.URLRewrite.Hostname)
		}
	case f.Type == gatewayv1.HTTPRouteFilterRequestMirror && f.RequestMirror != nil:
		t.mirror(rt, out, f.RequestMirror)
	default:
		p = problemf(gatewayv1.RouteReasonUnsupportedValue, "filter %s is not supported", f.Type)
	}
	return p
}

// mirror adds a mirror backend; one that cannot be resolved is reported
// (ResolvedRefs) and left out, the rule still serves.
func (t *translator) mirror(rt *routeTranslation, out *snapshot.RouteFilters, m *gatewayv1.HTTPRequestMirrorFilter) {
	up, p := t.backend(rt, &m.BackendRef, false)
	if p != nil {
		rt.refProblem(p)
		return
	}
	rt.use(up)
	out.Mirrors = append(out.Mirrors, up.Name)
}

func headerEdits(h *gatewayv1.HTTPHeaderFilter) (snapshot.HeaderEdits, *problem) {
	var out snapshot.HeaderEdits
	for _, hs := range []struct {
		in  []gatewayv1.HTTPHeader
		out *[]snapshot.Header
	}{{h.Set, &out.Set}, {h.Add, &out.Add}} {
		for _, x := range hs.in {
			if strings.ContainsAny(x.Value, "\r\n\x00") {
				return out, problemf(gatewayv1.RouteReasonUnsupportedValue, "value of header %s contains CR, LF or NUL", x.Name)
			}
			*hs.out = append(*hs.out, snapshot.Header{Name: string(x.Name), Value: x.Value})
		}
	}
	out.Remove = append(out.Remove, h.Remove...)
	return out, nil
}

func redirect(r *gatewayv1.HTTPRequestRedirectFilter) (*snapshot.Redirect, *problem) {
	out := &snapshot.Redirect{Path: pathModifier(r.Path), StatusCode: 302}
	if r.Scheme != nil {
		out.Scheme = *r.Scheme
	}
	if r.Hostname != nil {
		out.Hostname = string(*r.Hostname)
	}
	if r.Port != nil {
		out.Port = int(*r.Port)
	}
	if r.StatusCode != nil {
		out.StatusCode = *r.StatusCode
	}
	return out, nil // snapshot.CheckRoute judges the status, as for Ingress
}

func pathModifier(m *gatewayv1.HTTPPathModifier) *snapshot.PathModifier {
	switch {
	case m == nil:
		return nil
	case m.Type == gatewayv1.FullPathHTTPPathModifier && m.ReplaceFullPath != nil:
		return &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: *m.ReplaceFullPath}
	case m.Type == gatewayv1.PrefixMatchHTTPPathModifier && m.ReplacePrefixMatch != nil:
		return &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: *m.ReplacePrefixMatch}
	}
	return nil
}

func timeouts(t *gatewayv1.HTTPRouteTimeouts) (snapshot.RouteTimeouts, *problem) {
	var out snapshot.RouteTimeouts
	if t == nil {
		return out, nil
	}
	var p *problem
	if out.Request, p = duration("timeouts.request", t.Request); p != nil {
		return out, p
	}
	out.BackendRequest, p = duration("timeouts.backendRequest", t.BackendRequest)
	return out, p
}

// duration parses a Gateway API duration (GEP-2257, a subset of Go's
// syntax); unset and "0s" both mean none.
func duration(field string, d *gatewayv1.Duration) (time.Duration, *problem) {
	if d == nil {
		return 0, nil
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil || v < 0 {
		return 0, problemf(gatewayv1.RouteReasonUnsupportedValue, "%s %q is not a duration", field, *d)
	}
	return v, nil
}

// retry converts a rule's retry: Gateway API counts retries, the
// snapshot attempts in all.
func retry(r *gatewayv1.HTTPRouteRetry) (*snapshot.RouteRetry, *problem) {
	if r == nil || (r.Attempts != nil && *r.Attempts == 0) {
		return nil, nil
	}
	out := &snapshot.RouteRetry{Attempts: 2}
	if r.Attempts != nil {
		out.Attempts = *r.Attempts + 1
	}
	for _, c := range r.Codes {
		out.Codes = append(out.Codes, int(c))
	}
	var p *problem
	out.Backoff, p = duration("retry.backoff", r.Backoff)
	return out, p
}
