// Package h1guard inspects the HTTP/1 request stream of a connection below
// net/http and refuses the framing that net/http tolerates but an
// intermediary must not pass on: a request carrying both Content-Length and
// Transfer-Encoding (RFC 9112 §6.3: "ought to be handled as an error"; it is
// the classic request-smuggling vector), Transfer-Encoding in an HTTP/1.0
// request (§6.1: the framing is faulty; net/http ignores it and reads
// another body than a backend might), obs-fold, header lines continued on
// the next line (§5.2: a proxy must reject or replace them), and a
// "PRI * HTTP/2.0" request line that is not the HTTP/2 preface.
//
// The guard follows message boundaries itself (heads, Content-Length and
// chunked bodies), so it judges every request of a keep-alive connection,
// not just the first. It reads Content-Length and Transfer-Encoding as
// net/http does (values trimmed of spaces and tabs, however many, and
// compared without case), and refuses framing it cannot follow instead of
// giving up: Transfer-Encoding other than one "chunked" field (§6.3 asks
// for 400 when chunked is not the final coding), a Content-Length net/http
// cannot read, a chunk size net/http refuses. On a violation it withholds
// the offending bytes and everything after them, and hands net/http a few
// poisoned bytes instead that no request head (or chunk size) can absorb:
// net/http answers "400 Bad Request" and closes the connection, so the
// request never reaches a handler, let alone an upstream.
//
// It stops inspecting (passes bytes through) only where it is no longer
// the arbiter: a connection that begins with the whole HTTP/2 connection
// preface (prior knowledge, which net/http then serves as HTTP/2), and a
// connection hijacked for an upgrade (StopInspecting).
package h1guard
