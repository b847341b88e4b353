// Package lb picks the backend for a request.
//
// Backends are owned by a Registry and keyed by address, so their health and
// in-flight counters survive configuration swaps: a Pool built for a new
// snapshot reuses the Backend of every address it shares with the old one.
// Pools are immutable after Update returns; a request in flight keeps using
// the Pool it picked from while a newer one is published. A pool's selection
// state carries over to its successor of the same name (the rotation, and
// the smooth weighted current weights by backend), so frequent swaps do not
// restart the rotation.
//
// Policies: RoundRobin (an atomic counter), WeightedRoundRobin (nginx's
// smooth weighted round robin) and LeastRequest (fewest in flight, ties
// rotated). All skip backends the request already tried and backends that
// are unavailable: passively ejected after consecutive failed requests
// (health.Passive) or failing an active HTTP or gRPC check (health.Checker). When
// nothing untried is available a pool fails open rather than black-holing
// traffic; see Pool.Pick.
//
// Pick is on the hot path of every request and allocates nothing.
package lb
