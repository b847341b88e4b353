// Package lb picks the backend for a request.
//
// Backends are owned by a Registry and keyed by address, so their health and
// in-flight counters survive configuration swaps: a Pool built for a new
// snapshot reuses the Backend of every address it shares with the old one.
// Pools are immutable after Update returns; a request in flight keeps using
// the Pool it picked from while a newer one is published.
//
// Policies: RoundRobin (an atomic counter), WeightedRoundRobin (nginx's
// smooth weighted round robin) and LeastRequest (fewest in flight, ties
// rotated). All skip backends the request already tried and backends that
// are unavailable: passively ejected after consecutive failed requests
// (health.Passive) or failing an active HTTP check (health.Checker). When
// nothing untried is available a pool fails open rather than black-holing
// traffic; see Pool.Pick.
//
// Pick is on the hot path of every request and allocates nothing.
package lb
