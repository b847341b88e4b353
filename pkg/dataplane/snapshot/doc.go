// Package snapshot is the routing model shared by the reconciler, which
// produces it, and the data plane, which serves it.
//
// A Snapshot is immutable once handed to the data plane: producers build a
// fresh one for every change and consumers never write to it. That is what
// lets the data plane swap a whole configuration with one atomic store and
// lets requests in flight keep reading the snapshot they started with.
// A producer that knows what it changed says so (Snapshot.Changes), so
// that the data plane compiles that much and not the whole configuration.
// Such a producer also sets the hosts and upstreams as persistent lists
// (SortedList, see lists.go), so that its next snapshot shares all of them
// but the chunks it changed; readers use the accessors, which read either
// form.
//
// The package depends on the standard library only, so neither side of the
// boundary drags the other's dependencies along.
package snapshot
