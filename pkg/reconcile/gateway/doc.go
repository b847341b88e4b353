// Package gateway translates Gateway API objects (GatewayClass, Gateway,
// HTTPRoute, GRPCRoute, ReferenceGrant, BackendTLSPolicy) into the
// Gateways of the snapshot the Ingress translation builds, and computes
// their statuses. Like pkg/reconcile/translate it is a pure function of its
// Input: no clock, no client, no map order in the result.
//
// Each Gateway of a GatewayClass whose controllerName is ours becomes one
// snapshot.Gateway, reached on the one address assigned to it from
// Input.AddressPool; its listeners are merged by port, and each host of a
// port holds the routes attached to a listener of that port whose hostname
// intersects the route's hostnames. Service backends are resolved by
// translate.Resolver, so a Service port used by an Ingress and by an
// HTTPRoute is one upstream. Every route is checked with the data plane's
// own validator (snapshot.CheckRoute) before it is emitted; a rule it
// refuses is dropped and reported on the route (UnsupportedValue).
//
// Routes are numbered (snapshot.Route.Order, the last tie-break of
// precedence) per Gateway, HTTPRoutes then GRPCRoutes, oldest first: order
// only matters among the routes of one host, and numbering per Gateway
// keeps one route's change from renumbering every later route.
//
// A Cache gives the same result as Translate but keeps the objects and
// takes only those that changed (Cache.TranslateChanges, fed from the
// informers' keys): an index from each object to the routes that read it,
// and from each Gateway key to the routes naming it, says which routes to
// translate again; Services are resolved one at a time from the kept
// objects instead of by a Resolver of every Service. Only the Gateways
// those routes name are attached again, each only for those routes (and
// the routes they renumber), and only the virtual hosts they touch are
// rebuilt; a Gateway's change makes anew that Gateway alone. A change to
// a GatewayClass, Namespace, grant, policy or listener Secret still
// re-attaches every route (reusing their translations).
//
// Conditions carry the object's generation and a zero lastTransitionTime:
// the status writer keeps the old time unless the status flips.
package gateway
