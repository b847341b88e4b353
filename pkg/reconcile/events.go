package reconcile

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/reconcile/gateway"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// ReportingController is the reportingController of Baton's Events.
const ReportingController = "baton.dev/ingress-controller"

// eventAction is the events.k8s.io action of every Baton Event: the
// problem was found while building the routing snapshot.
const eventAction = "BuildSnapshot"

// objectKind tells which kind of object a warning is about.
type objectKind uint8

const (
	kindIngress objectKind = iota
	kindUpstream
	kindGateway
	kindHTTPRoute
	kindGRPCRoute
)

// warningKey identifies one warning on one object.
type warningKey struct {
	kind    objectKind
	object  types.NamespacedName
	reason  string
	message string
}

// warningEvents turns the warnings of successive builds into Events
// without repeating them: a warning is announced when it first appears,
// and again only after it went away and came back. A steady state, rebuilt
// on every endpoint change, thus emits nothing.
type warningEvents struct {
	active map[warningKey]bool
}

// fresh returns the warnings of out and gw (nil when Gateway API is off)
// that the previous call did not report, in the order of out, and
// remembers their warnings.
func (e *warningEvents) fresh(out *translate.Output, gw *gateway.Output) []warningKey {
	now := map[warningKey]bool{}
	var added []warningKey
	note := func(k warningKey) {
		if now[k] {
			return
		}
		now[k] = true
		if !e.active[k] {
			added = append(added, k)
		}
	}
	for _, r := range out.Ingresses.All() {
		for _, w := range r.Warnings {
			note(warningKey{kindIngress, r.Key, w.Reason, w.Message})
		}
	}
	for _, r := range out.Upstreams {
		for _, w := range r.Warnings {
			note(warningKey{kindUpstream, r.Key, w.Reason, w.Message})
		}
	}
	for _, k := range gatewayWarnings(gw) {
		note(k)
	}
	e.active = now
	return added
}

// forget makes k count as new at the next call, for an Event that could
// not be recorded.
func (e *warningEvents) forget(k warningKey) {
	delete(e.active, k)
}
