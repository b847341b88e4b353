//go:build envtest

package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// TestWarningEvents: a missing Service and a path conflict each produce
// one Warning Event on the Ingress at fault; the oldest Ingress keeps the
// path even though its name sorts last; rebuilds do not repeat Events.
func TestWarningEvents(t *testing.T) {
	e := newEnv(t, envOptions{})
	slice := e.endpointSlice("web-1", "web", "http", 8080, []string{"10.244.0.1"})
	e.create(e.service("web", 80, "http"))
	e.create(slice)
	e.create(e.ingress("zz-old", e.class, "c.example.com", "/", "web", 80))
	// creationTimestamp has one-second resolution: make "zz-old" strictly
	// older, so that name order (which would pick "aa-new") cannot decide.
	time.Sleep(1100 * time.Millisecond)
	e.create(e.ingress("aa-new", e.class, "c.example.com", "/", "web", 80))
	e.create(e.ingress("broken", e.class, "d.example.com", "/", "nope", 80))

	snap, _ := e.sink.waitFor(t, "routing c.example.com", func(s *snapshot.Snapshot) bool {
		return findRoute(s, "c.example.com", "/") != nil
	})
	if src := findRoute(snap, "c.example.com", "/").Source; src != e.ns+"/zz-old" {
		t.Errorf("c.example.com/ is served by %s, want the older %s/zz-old", src, e.ns)
	}
	if findHost(snap, "d.example.com") != nil {
		t.Errorf("the route to a missing Service was kept: %s", describe(snap))
	}
	conflict := e.waitEvent("aa-new", translate.ReasonRouteConflict)
	if !strings.Contains(conflict.Note, e.ns+"/zz-old") {
		t.Errorf("conflict Event does not name the winner: %q", conflict.Note)
	}
	missing := e.waitEvent("broken", translate.ReasonServiceNotFound)
	if !strings.Contains(missing.Note, "nope") || missing.Type != corev1.EventTypeWarning || missing.ReportingController != reconcile.ReportingController {
		t.Errorf("missing-Service Event = %+v", missing)
	}

	// Five rebuilds with new snapshots keep both warnings.
	for i := range 5 {
		addr := fmt.Sprintf("10.244.0.%d", 10+i)
		update(e, slice, func(s *discoveryv1.EndpointSlice) { setEndpoints(s, []string{addr}) })
		e.sink.waitFor(t, "with endpoint "+addr, func(s *snapshot.Snapshot) bool {
			eps := endpointsOf(s, "service/"+e.ns+"/web/80")
			return len(eps) == 1 && eps[0] == addr+":8080"
		})
	}
	// Events go out in order: once this one is stored, a repeat of the
	// earlier ones would be too.
	e.create(e.ingress("broken-2", e.class, "f.example.com", "/", "nope-2", 80))
	e.waitEvent("broken-2", translate.ReasonServiceNotFound)
	for _, name := range []string{"aa-new", "broken"} {
		evs := e.events(name)
		if len(evs) != 1 || evs[0].Series != nil {
			t.Errorf("Ingress %s: want exactly one Event and no series after rebuilds, got %d: %+v", name, len(evs), evs)
		}
	}
	if evs := e.events("zz-old"); len(evs) != 0 {
		t.Errorf("the winning Ingress got Events: %+v", evs)
	}
}

// events lists the events.k8s.io Events about the Ingress called name.
func (e *env) events(name string) []eventsv1.Event {
	e.t.Helper()
	return e.eventsAbout("Ingress", name)
}

// eventsAbout lists the events.k8s.io Events about the object of kind
// called name in the test namespace.
func (e *env) eventsAbout(kind, name string) []eventsv1.Event {
	e.t.Helper()
	var list eventsv1.EventList
	if err := e.client.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatalf("list Events: %v", err)
	}
	var out []eventsv1.Event
	for _, ev := range list.Items {
		if ev.Regarding.Kind == kind && ev.Regarding.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) waitEvent(ingress, reason string) eventsv1.Event {
	e.t.Helper()
	found := e.waitEventAbout("Ingress", ingress, reason)
	var ing types.NamespacedName
	ing.Namespace, ing.Name = e.ns, ingress
	if found.Regarding.Namespace != ing.Namespace || found.Regarding.UID == "" {
		e.t.Errorf("Event regarding %+v, want Ingress %s with its UID", found.Regarding, ing)
	}
	return found
}

// waitEventAbout waits for an Event with reason about the object of kind
// called name.
func (e *env) waitEventAbout(kind, name, reason string) eventsv1.Event {
	e.t.Helper()
	var found eventsv1.Event
	e.eventually(fmt.Sprintf("Event %s on %s %s", reason, kind, name), func() (bool, string) {
		evs := e.eventsAbout(kind, name)
		for _, ev := range evs {
			if ev.Reason == reason {
				found = ev
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events: %+v", len(evs), evs)
	})
	return found
}
