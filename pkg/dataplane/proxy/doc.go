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
// record. Phases read the client's fields from Session.RequestHeader, a
// read-only view of the server's list over HTTP/1; phases that say they
// never read Session.Request.Header (HeaderMapReader, as the router does)
// spare the HTTP/1 server making that map.
//
// HTTP/1.1 peers (and HTTPS peers that choose http/1.1 by ALPN) are spoken
// to by the proxy's own client (h1client.go), which the requesting
// goroutine drives and which reads responses with the one parser in
// pkg/dataplane/h1; h2c and h2 peers go through net/http's HTTP/2.
package proxy
