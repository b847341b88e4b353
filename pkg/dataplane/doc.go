// Package dataplane assembles Baton's in-process data plane: the router
// (snapshot → routes, pools, certificates), the proxy application that runs
// the request phases, the server that owns the listeners, and the listener
// handoff between an old and a new process.
//
// It is the only thing the controller binary needs to know about the data
// plane: Apply a snapshot, Start serving, and Shutdown when told to or when a
// successor has taken the listeners over.
package dataplane
