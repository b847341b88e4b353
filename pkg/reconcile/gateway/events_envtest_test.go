//go:build envtest

package gateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
)

// TestGatewayAPIWarningEvents: a listener on a port Baton does not serve
// and a route to a missing Service each get one Warning Event on their
// object, as Ingresses do; rebuilds (endpoint changes) repeat none, and
// the healthy route gets none.
func TestGatewayAPIWarningEvents(t *testing.T) {
	e := newGWEnv(t)
	e.webService()
	gw := e.gateway("gw")
	gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "odd", Protocol: gatewayv1.HTTPProtocolType, Port: 81})
	e.create(gw)
	e.create(e.route("good", "web"))
	e.create(e.route("bad", "nope"))

	port := e.waitEvent("Gateway", "gw", string(gatewayv1.ListenerReasonPortUnavailable))
	if !strings.HasPrefix(port.Note, "listener odd: ") || port.Type != corev1.EventTypeWarning || port.ReportingController != reconcile.ReportingController {
		t.Errorf("listener Event = %+v", port)
	}
	missing := e.waitEvent("HTTPRoute", "bad", string(gatewayv1.RouteReasonBackendNotFound))
	if !strings.Contains(missing.Note, "nope") {
		t.Errorf("missing-backend Event does not name the Service: %q", missing.Note)
	}

	var slice discoveryv1.EndpointSlice
	for i := range 5 {
		addr := fmt.Sprintf("10.1.0.%d", 10+i)
		if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: "web-1"}, &slice); err != nil {
			t.Fatal(err)
		}
		slice.Endpoints[0].Addresses = []string{addr}
		if err := e.client.Update(e.ctx, &slice); err != nil {
			t.Fatal(err)
		}
		e.eventually("endpoint "+addr+" in the snapshot", func() (bool, string) {
			s := e.sink.snapshot()
			return s != nil && hasEndpoint(s, addr+":8080"), "not yet"
		})
		// With Gateways present too, a change says what it changed, so
		// that the data plane compiles only that (issue 10).
		if s := e.sink.snapshot(); s.Changes == nil || s.Changes.Base == 0 || !slices.Contains(s.Changes.Upstreams, "service/"+e.ns+"/web/80") {
			t.Errorf("endpoint %s: the snapshot's Changes are %+v, want the web upstream listed", addr, s.Changes)
		}
	}
	// Events are recorded in order: once this one is stored, a repeat of
	// the earlier ones would be too.
	e.create(e.route("bad-2", "nope-2"))
	e.waitEvent("HTTPRoute", "bad-2", string(gatewayv1.RouteReasonBackendNotFound))
	for _, obj := range [][2]string{{"Gateway", "gw"}, {"HTTPRoute", "bad"}} {
		if evs := e.events(obj[0], obj[1]); len(evs) != 1 || evs[0].Series != nil {
			t.Errorf("%s %s: want exactly one Event and no series after rebuilds, got %d: %+v", obj[0], obj[1], len(evs), evs)
		}
	}
	if evs := e.events("HTTPRoute", "good"); len(evs) != 0 {
		t.Errorf("the healthy route got Events: %+v", evs)
	}
}

func hasEndpoint(s *snapshot.Snapshot, addr string) bool {
	for _, u := range s.AllUpstreams() {
		for _, ep := range u.Endpoints {
			if ep.Address == addr {
				return true
			}
		}
	}
	return false
}

// events lists the events.k8s.io Events about the object kind/name.
func (e *gwEnv) events(kind, name string) []eventsv1.Event {
	e.t.Helper()
	var list eventsv1.EventList
	if err := e.client.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, ev := range list.Items {
		if ev.Regarding.Kind == kind && ev.Regarding.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent waits for a Warning Event with reason about kind/name.
func (e *gwEnv) waitEvent(kind, name, reason string) eventsv1.Event {
	e.t.Helper()
	var found eventsv1.Event
	e.eventually(fmt.Sprintf("%s Event on %s %s", reason, kind, name), func() (bool, string) {
		evs := e.events(kind, name)
		for _, ev := range evs {
			if ev.Reason == reason {
				found = ev
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d other Events", len(evs))
	})
	return found
}
