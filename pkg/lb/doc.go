// Package lb picks the backend for a request.
//
// Backends are owned by a Registry and keyed by address, so their health and
// in-flight counters survive configuration swaps: a Pool built for a new
// snapshot reuses the Backend of every address it shares with the old one.
// Pools are immutable after Update returns; a request in flight keeps using
// the Pool it picked from while a newer one is published.
//
// Pick is on the hot path of every request and allocates nothing.
package lb
