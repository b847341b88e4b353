// Package router turns a snapshot into what the proxy needs per request:
// a compiled route table (Ingress v1 host and path rules), the upstream
// pools, and the TLS certificates by SNI. It implements the proxy's phases.
//
// # Hosts
//
// The Host header is compared without its port (":8080", or the brackets
// and port of "[::1]:8080"), ignoring ASCII case and one trailing dot. An
// exact name wins over a wildcard; "*.foo.com" covers exactly one more
// label ("bar.foo.com", not "foo.com" nor "baz.bar.foo.com"). A host that
// names no virtual host, or is longer than a DNS name can be, goes to the
// catch-all host "" (rules without a host). Host selection comes first and
// is final: a selected host does not fall back to the catch-all when none
// of its paths match (like ingress-nginx server blocks); the snapshot's
// default backend answers then, else nothing matches and the caller
// answers 404. TLS certificates are chosen by SNI the same way, with the
// default certificate instead of a catch-all.
//
// # Paths
//
// Exact routes match the whole path, case-sensitively, trailing slash
// included. Prefix routes match by '/'-separated elements: "/aaa" matches
// "/aaa", "/aaa/" and "/aaa/ccc" but not "/aaaccc"; the rule's trailing
// slash is ignored and "/" matches every path. The longest match wins,
// and on equal paths Exact beats Prefix. Of two routes with the same path
// and type the first listed wins (the producer resolves conflicts). The
// producer maps ImplementationSpecific to Prefix.
//
// Matching compares bytes: the path passed to Match must be the request's
// decoded URL path with dot segments and duplicate slashes already removed,
// or "/public/../admin" would be routed by "/public" and served by the
// upstream as "/admin". RequestFilter does this (see normalisePath) and
// forwards the cleaned path, so routing and the upstream agree; a "%2F"
// is a '/' for routing.
//
// # Gateway API matchers
//
// A route may also ask for a method (compared with case), headers (names
// without case; a repeated header is its values joined by ",", cookies
// by "; ", as Envoy matches them), query parameters (names with case,
// names and values decoded, the first value of a repeated parameter, as
// Gateway API recommends) and a RegularExpression path (RE2, anchored at
// both ends: snapshot.CompileRegex). Among the routes of the selected host
// that match, the order of snapshot.Route decides: Exact, then regex by
// length, then Prefix by length (without trailing slashes), then a
// method, more headers, more query parameters, the lower Order, and the
// first listed. Routes are grouped by path in that order, so a host of
// Ingress routes costs what it did, and a request tries the routes of one
// path only until one accepts it. Nothing here allocates, except a regex
// on a header sent more than once and an escaped query parameter.
//
// # Weighted backends
//
// A route with Backends picks one per request by smooth weighted round
// robin under a per-route lock; weight 0 is never picked, and a route
// whose weights are all 0 matches with Upstream -1 and RequestFilter
// answers 500. Apply continues each route's rotation in the next table
// (matched by host, Source, path, method and Order), since snapshots
// change on every EndpointSlice update.
//
// # Gateways
//
// A connection whose local address (http.LocalAddrContextKey, or the
// handshake's Conn) is a gateway's is routed by that gateway's port for
// the local port alone: no Ingress host, default backend or other
// gateway ever answers it, and a port the gateway does not serve is a
// 404. Its certificates come from that port too. Gateway wildcards cover
// any number of labels, as Gateway API hostnames do.
//
// # Route filters, timeouts and retries
//
// A matched route's Filters apply as Gateway API v1.6 specifies them
// (filters.go, redirect.go, mirror.go). A Redirect answers at once; its
// Location keeps what the redirect leaves empty from the request, and the
// port is the explicit one, else the new scheme's well-known port when the
// scheme changes, else the client's (the port of its Host header, which
// survives a Service's port mapping); 80 and 443 are left out for http and
// https. ReplacePrefixMatch replaces the route's prefix by whole path
// elements (trailing slashes ignored, "" becomes "/"). Rewrite and the
// request header edits apply to the upstream request before the
// Upstream's own Host rewrite and edits, which have the last word; Add
// appends to an existing value with a comma (Set-Cookie: a line of its
// own). Mirrors get a copy of the first attempt's request, without a body
// (requests with a body are not mirrored), sent in the background with a
// 30 s limit; at most 256 are under way, further copies are dropped and
// counted (MirrorsDropped). Timeouts.Request is the request's deadline
// counted from its arrival, retries and backoff included (504);
// Timeouts.BackendRequest bounds each attempt until the end of its
// response. Retry retries the listed statuses (a timed-out attempt is a
// 504) on the same upstream, possibly the same backend, Backoff apart, up
// to Attempts attempts in all; a request body is sent again only when the
// proxy kept it whole (64 KiB at most), else the request is not retried.
//
// # Loops
//
// Every request sent upstream gets this process's entry in Via (see
// hopMarker for why the id is random per process), and RequestFilter
// answers 508 Loop Detected to a request whose Via already has it: an
// Upstream that points back at Baton costs one extra hop, not a request
// storm.
//
// # Compiling
//
// Compile and CompileCertificates reject what a producer must never send
// (unknown upstreams, malformed host names or wildcards, duplicate hosts,
// paths without a leading '/', unparsable key pairs), so Apply keeps the
// previous configuration rather than serving part of a broken one.
//
// Apply compiles what differs from the snapshot in force (see reuse):
// hosts, splitters and SNI names live in copy-on-write maps shared with
// the state in force. Certificate lists sorted by Source, each Source
// once (as the translate Cache makes them), are compared with the list in
// force, so a rotated Secret writes its new pair alone; other lists are
// compiled in full, parsed pairs reused by content either way.
//
// Match and Certificates.Get allocate nothing: hosts are lower-cased into
// a stack buffer and looked up with map[string(bytes)] conversions the
// compiler does not copy. A host with more than a few Prefix routes indexes
// them by path, so a lookup costs one probe per path element rather than a
// scan of every route.
package router
