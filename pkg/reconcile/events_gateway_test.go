package reconcile

import (
	"errors"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/reconcile/gateway"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

func cond(typ string, ok bool, reason, msg string) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: 3}
}

var (
	gwKey        = types.NamespacedName{Namespace: "team", Name: "gw"}
	httpRouteKey = types.NamespacedName{Namespace: "team", Name: "r"}
)

// gatewayProblems has a Gateway without an address, a listener on a port
// Baton does not serve and one whose certificate is missing, and a route
// with a missing backend attached to two listeners, refused by one.
func gatewayProblems() *gateway.Output {
	missing := cond("ResolvedRefs", false, "BackendNotFound", `Service "team/nope" not found`)
	return &gateway.Output{
		GatewayStatuses: []gateway.GatewayResult{{Key: gwKey, Status: gatewayv1.GatewayStatus{
			Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "ok"),
				cond("Programmed", false, "AddressNotAssigned", "the address pool is exhausted")},
			Listeners: []gatewayv1.ListenerStatus{
				{Name: "odd", Conditions: []metav1.Condition{cond("Accepted", false, "PortUnavailable", "port 81 is not served"),
					cond("Programmed", false, "Invalid", "port 81 is not served"), cond("ResolvedRefs", true, "ResolvedRefs", "ok"),
					cond("Conflicted", false, "NoConflicts", "no conflicts")}},
				{Name: "https", Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "ok"),
					cond("ResolvedRefs", false, "InvalidCertificateRef", `Secret "team/cert" not found`),
					cond("Conflicted", true, "HostnameConflict", "a.example.com is also on listener b")}},
			}}}},
		HTTPRoutes: []gateway.RouteResult{{Key: httpRouteKey, Parents: []gatewayv1.RouteParentStatus{
			{ParentRef: gatewayv1.ParentReference{Name: "gw", SectionName: ptrTo(gatewayv1.SectionName("http"))},
				Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "ok"), missing}},
			{ParentRef: gatewayv1.ParentReference{Name: "gw", SectionName: ptrTo(gatewayv1.SectionName("odd"))},
				Conditions: []metav1.Condition{cond("Accepted", false, "NotAllowedByListeners", "listener odd allows no HTTPRoute"), missing}},
		}}},
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestGatewayWarnings: each cause once, its consequences (the listener's
// Programmed False, the second parent's identical ResolvedRefs) not again.
func TestGatewayWarnings(t *testing.T) {
	var e warningEvents
	got := e.fresh(&translate.Output{}, gatewayProblems())
	want := []warningKey{
		{kindGateway, gwKey, "AddressNotAssigned", "the address pool is exhausted"},
		{kindGateway, gwKey, "PortUnavailable", "listener odd: port 81 is not served"},
		{kindGateway, gwKey, "InvalidCertificateRef", `listener https: Secret "team/cert" not found`},
		{kindGateway, gwKey, "HostnameConflict", "listener https: a.example.com is also on listener b"},
		{kindHTTPRoute, httpRouteKey, "BackendNotFound", `Service "team/nope" not found`},
		{kindHTTPRoute, httpRouteKey, "NotAllowedByListeners", "parent team/gw listener odd: listener odd allows no HTTPRoute"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for range 3 {
		if again := e.fresh(&translate.Output{}, gatewayProblems()); len(again) != 0 {
			t.Fatalf("a rebuild with the same problems announced %+v", again)
		}
	}
	fixed := gatewayProblems()
	fixed.HTTPRoutes = nil
	if got := e.fresh(&translate.Output{}, fixed); len(got) != 0 {
		t.Fatalf("a fix announced %+v", got)
	}
	if got := e.fresh(&translate.Output{}, gatewayProblems()); len(got) != 2 || got[0].kind != kindHTTPRoute {
		t.Fatalf("problems that came back: %+v, want the route's two", got)
	}
	if got := e.fresh(&translate.Output{}, nil); got != nil {
		t.Fatalf("Gateway API off: %+v", got)
	}
}

// TestGatewayRejectedByDataPlane: a Gateway the data plane refused is not
// Programmed, its routes are not Accepted by it, and both get a warning.
func TestGatewayRejectedByDataPlane(t *testing.T) {
	out := &gateway.Output{
		GatewayStatuses: []gateway.GatewayResult{{Key: gwKey, Status: gatewayv1.GatewayStatus{
			Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "ok"), cond("Programmed", true, "Programmed", "ok")}}}},
		HTTPRoutes: []gateway.RouteResult{{Key: httpRouteKey, Parents: []gatewayv1.RouteParentStatus{
			{ParentRef: gatewayv1.ParentReference{Name: "gw"}, Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "ok")}},
			{ParentRef: gatewayv1.ParentReference{Name: "other"}, Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "ok")}},
		}}},
	}
	reportGatewayRejections(out, []rejection{{part{partGateway, "team/gw"}, errors.New("bad listener")},
		{part{partUpstream, "service/team/web/80"}, errors.New("bad upstream")}})
	msg := "the data plane refused the gateway team/gw, which is not served: bad listener"
	var e warningEvents
	want := []warningKey{
		{kindGateway, gwKey, ReasonRejectedByDataPlane, msg},
		{kindHTTPRoute, httpRouteKey, ReasonRejectedByDataPlane, "parent team/gw: " + msg},
	}
	if got := e.fresh(&translate.Output{}, out); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if c := out.HTTPRoutes[0].Parents[1].Conditions[0]; c.Status != metav1.ConditionTrue {
		t.Errorf("the route's other parent lost Accepted: %+v", c)
	}
	if c := out.GatewayStatuses[0].Status.Conditions[1]; c.Status != metav1.ConditionFalse || c.ObservedGeneration != 3 {
		t.Errorf("Programmed %+v", c)
	}
}
