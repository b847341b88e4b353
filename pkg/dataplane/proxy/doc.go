// Package proxy is the HTTP reverse-proxy application of the data plane.
//
// It is shaped like Pingora's proxy: every request runs a fixed sequence of
// phases that a Phases implementation overrides (request filter, upstream
// peer, upstream request filter, response filter, logging), sharing one
// per-request context value created by NewCtx. The proxy owns the protocol
// work: HTTP/1.1 and HTTP/2 downstream, pooled upstream connections keyed by
// peer identity, upgrades, trailers, streaming bodies, hop-by-hop headers,
// forwarding fields (replaced unless the peer is a trusted proxy) and
// timeouts. The phases own the policy: which peer, what to rewrite, what to
// record.
package proxy
