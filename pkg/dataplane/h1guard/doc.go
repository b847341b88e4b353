// Package h1guard inspects the HTTP/1 request stream of a connection below
// net/http and refuses the framing that net/http tolerates but an
// intermediary must not pass on: a request carrying both Content-Length and
// Transfer-Encoding (RFC 9112 §6.3: "ought to be handled as an error"; it is
// the classic request-smuggling vector) and obs-fold, header lines continued
// on the next line (RFC 9112 §5.2: a proxy must reject or replace them).
//
// The guard follows message boundaries itself (heads, Content-Length and
// chunked bodies), so it judges every request of a keep-alive connection,
// not just the first. On a violation it withholds the offending head and
// everything after it, and hands net/http a few poisoned bytes instead that
// no request head can absorb: net/http answers "400 Bad Request" and closes
// the connection, so the request never reaches a handler, let alone an
// upstream.
//
// It gives up inspecting (passes bytes through) where it stops being the
// arbiter: an HTTP/2 connection preface, a connection hijacked for an
// upgrade (StopInspecting), or framing so broken that net/http refuses it
// on its own.
package h1guard
