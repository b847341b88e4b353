package translate

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

// Reasons of Warnings and of False conditions.
const (
	// Reference problems: the referring route, certificate or default
	// backend is dropped; they set ResolvedRefs False.
	ReasonServiceNotFound    = v1alpha1.ReasonServiceNotFound
	ReasonPortNotFound       = v1alpha1.ReasonPortNotFound
	ReasonUnsupportedService = v1alpha1.ReasonUnsupportedService
	ReasonUpstreamNotFound   = "UpstreamNotFound"
	ReasonUnsupportedBackend = "UnsupportedBackend"
	ReasonSecretNotFound     = v1alpha1.ReasonSecretNotFound
	ReasonInvalidSecret      = v1alpha1.ReasonInvalidSecret

	// Rule problems: the rule, path, TLS host or default backend is not
	// used; they set Accepted False.
	ReasonInvalidHost            = "InvalidHost"
	ReasonInvalidPath            = "InvalidPath"
	ReasonRouteConflict          = "RouteConflict"
	ReasonTLSConflict            = "TLSConflict"
	ReasonDefaultBackendConflict = "DefaultBackendConflict"

	// Degraded: the route is kept and answers 503 until endpoints appear;
	// no condition changes.
	ReasonNoReadyEndpoints = v1alpha1.ReasonNoReadyEndpoints
	ReasonUpstreamNotReady = "UpstreamNotReady"

	// An endpoint address Baton refuses to proxy to: a static one makes its
	// Upstream fail closed (Ready False); EndpointSlice addresses are
	// dropped, the rest of the Service is used, and no condition changes.
	ReasonForbiddenEndpoint = v1alpha1.ReasonForbiddenEndpoint
)

// Condition types and success reasons of an IngressResult.
const (
	ConditionAccepted     = "Accepted"
	ConditionResolvedRefs = "ResolvedRefs"
	ReasonAccepted        = "Accepted"
	ReasonResolved        = "Resolved"
)

var refReasons = map[string]bool{
	ReasonServiceNotFound: true, ReasonPortNotFound: true, ReasonUnsupportedService: true,
	ReasonUpstreamNotFound: true, ReasonUnsupportedBackend: true,
	ReasonSecretNotFound: true, ReasonInvalidSecret: true,
}

var ruleReasons = map[string]bool{
	ReasonInvalidHost: true, ReasonInvalidPath: true, ReasonRouteConflict: true,
	ReasonTLSConflict: true, ReasonDefaultBackendConflict: true, ReasonInvalidAnnotation: true,
}

func warnf(reason, format string, args ...any) *Warning {
	return &Warning{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// report collects the warnings of one object, each distinct one once, in
// the order they were found.
type report struct {
	warnings []Warning
}

func (r *report) add(w *Warning) {
	for _, have := range r.warnings {
		if have == *w {
			return
		}
	}
	r.warnings = append(r.warnings, *w)
}

// addf adds a warning whose message is prefixed with where it was found.
func (r *report) addf(w *Warning, where string) {
	r.add(&Warning{Reason: w.Reason, Message: where + ": " + w.Message})
}

func (r *report) ingressConditions(generation int64) []metav1.Condition {
	return []metav1.Condition{
		r.condition(ConditionAccepted, ReasonAccepted, "every rule is in use", ruleReasons, generation),
		r.condition(ConditionResolvedRefs, ReasonResolved, "every reference resolved", refReasons, generation),
	}
}

// condition is True with okReason unless a warning of one of the reasons
// was reported; then it is False with the first such warning, and the
// message counts the others.
func (r *report) condition(typ, okReason, okMessage string, reasons map[string]bool, gen int64) metav1.Condition {
	c := metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: okReason, Message: okMessage, ObservedGeneration: gen}
	more := 0
	for _, w := range r.warnings {
		switch {
		case !reasons[w.Reason]:
		case c.Status == metav1.ConditionTrue:
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, w.Reason, w.Message
		default:
			more++
		}
	}
	if more > 0 {
		c.Message += fmt.Sprintf(" (and %d more problems, see events)", more)
	}
	return c
}
