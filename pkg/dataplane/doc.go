// Package dataplane assembles Baton's in-process data plane: the router
// (snapshot → routes, pools, certificates), the proxy application that runs
// the request phases, the server that owns the listeners, and the listener
// handoff between an old and a new process.
//
// It is the only thing the controller binary needs to know about the data
// plane: Apply a snapshot, Start serving, and Shutdown when told to or when a
// successor has taken the listeners over; Run does all of that in the one
// way cmd/controller, the bench proxy and embedders share.
//
// Embedders bring phases of their own (proxy.NopPhases supplies the ones
// they do not write): around the router (Options.WrapRouter) or on
// listeners of their own (Options.Services), which take part in the
// handoff and the drain. See Example_loadBalancer.
package dataplane
