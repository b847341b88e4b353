package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

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
	// AnnotationCanary sends a share of each rule path's requests to
	// another Service of the Ingress's namespace, as Gateway API weighted
	// backendRefs do: {"service":"web-v2","port":80,"weight":10} (port by
	// number or name, weight the percent of requests, 0 to 100).
	AnnotationCanary = "baton.dev/canary"
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

// canaryPlan is the Service an Ingress's canary annotation names and the
// percent of each rule path's requests it gets.
type canaryPlan struct {
	service string
	port    portRef
	weight  int
}

// canaryJSON is the annotation's shape; Weight is a pointer so that a
// forgotten weight is an error, not a canary of 0%.
type canaryJSON struct {
	Service string              `json:"service"`
	Port    *intstr.IntOrString `json:"port"`
	Weight  *int                `json:"weight"`
}

// planCanary reads the canary annotation of ing: nil when it has none.
func planCanary(ing *networkingv1.Ingress) (*canaryPlan, *Warning) {
	v, ok := ing.Annotations[AnnotationCanary]
	if !ok {
		return nil, nil
	}
	c, err := readCanary(v)
	if err != nil {
		return nil, warnf(ReasonInvalidAnnotation, "the Ingress's rules are not served: %s: %v", AnnotationCanary, err)
	}
	return c, nil
}

func readCanary(v string) (*canaryPlan, error) {
	var j canaryJSON
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf(`not JSON of the shape {"service":"web-v2","port":80,"weight":10}: %v`, err)
	}
	if errs := validation.IsDNS1035Label(j.Service); len(errs) > 0 {
		return nil, fmt.Errorf("service %q is not a Service name: %s", j.Service, strings.Join(errs, "; "))
	}
	if j.Weight == nil || *j.Weight < 0 || *j.Weight > 100 {
		return nil, errors.New("weight must be given, a percent from 0 to 100")
	}
	port, err := readCanaryPort(j.Port)
	if err != nil {
		return nil, err
	}
	return &canaryPlan{service: j.Service, port: port, weight: *j.Weight}, nil
}

// readCanaryPort takes the port as an Ingress Service backend takes it:
// a number from 1 to 65535 or a port name.
func readCanaryPort(p *intstr.IntOrString) (portRef, error) {
	switch {
	case p == nil:
		return portRef{}, errors.New("port must be given, a number or a name")
	case p.Type == intstr.Int:
		if p.IntVal < 1 || p.IntVal > 65535 {
			return portRef{}, fmt.Errorf("port %d is not between 1 and 65535", p.IntVal)
		}
		return portRef{number: p.IntVal}, nil
	case len(validation.IsValidPortName(p.StrVal)) > 0:
		return portRef{}, fmt.Errorf("port %q is not a port name", p.StrVal)
	}
	return portRef{name: p.StrVal}, nil
}
