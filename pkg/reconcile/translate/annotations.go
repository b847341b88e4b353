package translate

import (
	"encoding/json"
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// Ingress annotations that give an Ingress's routes the filters Gateway
// API routes have, through the same snapshot.RouteFilters: one data-plane
// implementation serves both. They apply to every path of the Ingress's
// rules (not to its defaultBackend).
const (
	// AnnotationSSLRedirect "true" answers plain-HTTP requests with a 301
	// to the same URL on https (default port); HTTPS requests are served.
	AnnotationSSLRedirect = "baton.dev/ssl-redirect"
	// AnnotationRewriteTarget replaces the part of the request path the
	// rule's path matched (Prefix and ImplementationSpecific paths: by
	// whole elements, as Gateway API's ReplacePrefixMatch; "/app" with
	// target "/" sends "/app/x" as "/x") or the whole path (Exact paths).
	// It is not a regular expression: "$1" means nothing.
	AnnotationRewriteTarget = "baton.dev/rewrite-target"
	// AnnotationRewriteHost replaces the Host header sent upstream.
	AnnotationRewriteHost = "baton.dev/rewrite-host"
	// AnnotationRequestHeaders and AnnotationResponseHeaders edit the
	// headers sent upstream and to the client: JSON in the shape of an
	// Upstream's spec.requestHeaders, e.g.
	// {"set":[{"name":"X-A","value":"1"}],"add":[...],"remove":["X-B"]}.
	AnnotationRequestHeaders  = "baton.dev/request-headers"
	AnnotationResponseHeaders = "baton.dev/response-headers"
)

// ReasonInvalidAnnotation: an annotation of ours could not be used; the
// Ingress's rule paths stay claimed but are not served (Accepted False).
const ReasonInvalidAnnotation = "InvalidAnnotation"

// ingressFilters are an Ingress's filters, one value per path type (the
// rewrite of an Exact path replaces the whole path).
type ingressFilters struct {
	prefix, exact *snapshot.RouteFilters
}

// forPath is the filters of a route of path type pt; nil when none.
func (f *ingressFilters) forPath(pt snapshot.PathType) *snapshot.RouteFilters {
	if f == nil {
		return nil
	}
	if pt == snapshot.PathExact {
		return f.exact
	}
	return f.prefix
}

// planFilters reads the filter annotations of ing: nil when it has none.
func planFilters(ing *networkingv1.Ingress) (*ingressFilters, *Warning) {
	f, err := readFilters(ing.Annotations)
	if err != nil {
		return nil, warnf(ReasonInvalidAnnotation, "the Ingress's rules are not served: %v", err)
	}
	if f.Redirect == nil && f.Rewrite == nil && emptyEdits(&f.RequestHeaders) && emptyEdits(&f.ResponseHeaders) {
		return nil, nil
	}
	exact := f
	if f.Rewrite != nil && f.Rewrite.Path != nil {
		rw := *f.Rewrite
		rw.Path = &snapshot.PathModifier{Type: snapshot.ReplaceFullPath, Value: f.Rewrite.Path.Value}
		exact.Rewrite = &rw
	}
	return &ingressFilters{prefix: &f, exact: &exact}, nil
}

func readFilters(a map[string]string) (snapshot.RouteFilters, error) {
	var f snapshot.RouteFilters
	var err error
	if f.Redirect, err = readSSLRedirect(a); err != nil {
		return f, err
	}
	if f.Rewrite, err = readRewrite(a); err != nil {
		return f, err
	}
	if f.RequestHeaders, err = readHeaders(a, AnnotationRequestHeaders); err != nil {
		return f, err
	}
	f.ResponseHeaders, err = readHeaders(a, AnnotationResponseHeaders)
	return f, err
}

func emptyEdits(e *snapshot.HeaderEdits) bool {
	return len(e.Set) == 0 && len(e.Add) == 0 && len(e.Remove) == 0
}

func readSSLRedirect(a map[string]string) (*snapshot.Redirect, error) {
	switch v, ok := a[AnnotationSSLRedirect]; {
	case !ok || v == "false":
		return nil, nil
	case v == "true":
		// 301 as the Gateway API core allows; HTTPS requests are served.
		return &snapshot.Redirect{Scheme: "https", StatusCode: 301, InsecureOnly: true}, nil
	default:
		return nil, fmt.Errorf("%s is %q; it must be \"true\" or \"false\"", AnnotationSSLRedirect, v)
	}
}

func readRewrite(a map[string]string) (*snapshot.Rewrite, error) {
	var rw snapshot.Rewrite
	if target, ok := a[AnnotationRewriteTarget]; ok {
		if strings.Contains(target, "$") {
			// ingress-nginx's captures; taken literally they would send
			// every request to a path nobody meant.
			return nil, fmt.Errorf("%s %q: capture groups ($1) are not supported; the target replaces the matched path prefix", AnnotationRewriteTarget, target)
		}
		if err := snapshot.CheckPath(target); err != nil {
			return nil, fmt.Errorf("%s %q: %v", AnnotationRewriteTarget, target, err)
		}
		rw.Path = &snapshot.PathModifier{Type: snapshot.ReplacePrefixMatch, Value: target}
	}
	if h, ok := a[AnnotationRewriteHost]; ok {
		name, err := snapshot.NormaliseHost(h)
		if err != nil || strings.HasPrefix(name, "*.") {
			return nil, fmt.Errorf("%s %q is not a host name", AnnotationRewriteHost, h)
		}
		rw.Hostname = name
	}
	if rw.Path == nil && rw.Hostname == "" {
		return nil, nil
	}
	return &rw, nil
}

// readHeaders reads a header edits annotation, which has the shape and
// rules of an Upstream's spec.requestHeaders (convertHeaders).
func readHeaders(a map[string]string, key string) (snapshot.HeaderEdits, error) {
	v, ok := a[key]
	if !ok {
		return snapshot.HeaderEdits{}, nil
	}
	var edits v1alpha1.HeaderEdits
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&edits); err != nil {
		return snapshot.HeaderEdits{}, fmt.Errorf("%s is not JSON header edits ({\"set\":[{\"name\":\"X-A\",\"value\":\"1\"}],\"add\":[],\"remove\":[]}): %v", key, err)
	}
	e, err := convertHeaders(&edits)
	if err != nil {
		return e, fmt.Errorf("%s: %v", key, err)
	}
	return e, nil
}
