package reconcile

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// ReasonRejectedByDataPlane marks routes, certificates and upstreams the
// data plane refused although translation let them through: a bug on one
// side of the boundary, reported on the objects it costs instead of
// freezing everyone's routing.
const ReasonRejectedByDataPlane = "RejectedByDataPlane"

// reportRejections puts each refused part on the objects it came from,
// as a Warning and a False Accepted condition, and stops counting a
// refused certificate as good (it never reached the data plane).
func reportRejections(out *translate.Output, s *snapshot.Snapshot, ingresses []networkingv1.Ingress, rejected []rejection) {
	if len(rejected) > 0 {
		// The translate Cache hands out its own lists again while nothing
		// changes: what is added here must go to copies (the Ingress
		// results are a persistent list, which rejectIngress copies).
		out.Upstreams = slices.Clone(out.Upstreams)
	}
	for _, r := range rejected {
		msg := fmt.Sprintf("the data plane refused the %s, which is not served: %v", r.part, r.err)
		for _, key := range ingressesOf(r.part, s, ingresses) {
			rejectIngress(out, key, msg)
		}
		switch r.part.kind {
		case partUpstream:
			rejectUpstream(out, r.part.name, msg)
		case partCertificate:
			delete(out.GoodCertificates, parseKey(r.part.name))
		case partDefaultCertificate:
			out.Warnings = append(out.Warnings, translate.Warning{Reason: ReasonRejectedByDataPlane, Message: msg})
		}
	}
}

// ingressesOf are the Ingresses a refused part came from or served.
func ingressesOf(p part, s *snapshot.Snapshot, ingresses []networkingv1.Ingress) []types.NamespacedName {
	var out []types.NamespacedName
	switch p.kind {
	case partRoutes, partDefaultBackend:
		out = append(out, parseKey(p.name))
	case partUpstream:
		seen := map[string]bool{}
		for _, vh := range s.AllHosts() {
			for _, r := range vh.Routes {
				if slices.Contains(routeUpstreams(&r), p.name) && !seen[r.Source] {
					seen[r.Source] = true
					out = append(out, parseKey(r.Source))
				}
			}
		}
	case partCertificate:
		secret := parseKey(p.name)
		for i := range ingresses {
			if usesSecret(&ingresses[i], secret) {
				out = append(out, types.NamespacedName{Namespace: ingresses[i].Namespace, Name: ingresses[i].Name})
			}
		}
	}
	return out
}

func usesSecret(ing *networkingv1.Ingress, secret types.NamespacedName) bool {
	if ing.Namespace != secret.Namespace {
		return false
	}
	for _, t := range ing.Spec.TLS {
		if t.SecretName == secret.Name {
			return true
		}
	}
	return false
}

func rejectIngress(out *translate.Output, key types.NamespacedName, msg string) {
	old := translate.FindResult(out.Ingresses, key)
	if old == nil {
		return
	}
	r := *old
	r.Warnings = append(slices.Clip(r.Warnings), translate.Warning{Reason: ReasonRejectedByDataPlane, Message: msg})
	r.Conditions = slices.Clone(r.Conditions)
	setFalse(&r.Conditions, translate.ConditionAccepted, msg)
	out.Ingresses = out.Ingresses.Put(r)
}

// rejectUpstream reports on the Upstream object a refused upstream was
// built from; Service upstreams have no status of ours to carry it.
func rejectUpstream(out *translate.Output, name, msg string) {
	rest, ok := strings.CutPrefix(name, "upstream/")
	if !ok {
		return
	}
	key := parseKey(rest)
	for i := range out.Upstreams {
		if r := &out.Upstreams[i]; r.Key == key {
			r.Warnings = append(slices.Clip(r.Warnings), translate.Warning{Reason: ReasonRejectedByDataPlane, Message: msg})
			r.Status.Conditions = slices.Clone(r.Status.Conditions)
			setFalse(&r.Status.Conditions, v1alpha1.ConditionReady, msg)
		}
	}
}

// setFalse turns a True condition False; one already False keeps the
// reason it has.
func setFalse(conds *[]metav1.Condition, typ, msg string) {
	c := meta.FindStatusCondition(*conds, typ)
	if c == nil || c.Status == metav1.ConditionFalse {
		return
	}
	c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonRejectedByDataPlane, msg
}

func parseKey(s string) types.NamespacedName {
	ns, name, _ := strings.Cut(s, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}
