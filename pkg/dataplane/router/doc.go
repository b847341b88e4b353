// Package router turns a snapshot into what the proxy needs per request:
// a compiled route table (Ingress v1 host and path rules), the upstream
// pools, and the TLS certificates by SNI. It implements the proxy's phases.
//
// Matching works on the request's decoded URL path after dot segments and
// duplicate slashes are removed (see normalisePath): "/a/../admin" is routed
// and forwarded as "/admin", and "%2F" is a '/' for routing. Host selection
// comes first — exact host, then a one-label wildcard, then the catch-all
// host of rules without a host — and a selected host does not fall back to
// the catch-all when none of its paths match; the snapshot's default backend
// answers then, else 404.
//
// Match allocates nothing: hosts are lower-cased into a stack buffer and
// looked up with map[string(bytes)] conversions the compiler does not copy.
package router
