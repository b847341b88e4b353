// Package server runs the data plane's listeners, shaped like Pingora's
// Server: a Server owns Services, each Service has listeners (cleartext or
// TLS) and one http.Handler (the proxy application).
//
// Cleartext listeners serve HTTP/1.1 and HTTP/2 with prior knowledge (h2c);
// TLS listeners serve HTTP/1.1 and HTTP/2 chosen by ALPN, TLS 1.2 at least.
// A listener may require the PROXY protocol (v1 or v2), read below TLS; its
// client address becomes RemoteAddr.
//
// HTTP/1.1 is served by Baton's own engine (h1conn): one goroutine per
// connection while it has a request, read with pkg/dataplane/h1 (the parser
// whose framing decision refuses request smuggling is the one that frames
// the body), buffers lent from a pool only while a request is under way, no
// background read: a client that leaves while its request is in flight is
// noticed by one poller per Server (connSet.watchGone). On Linux an idle
// keep-alive connection has no goroutine: it is parked (parkedConn) in the
// Server's epoll set until its next request, its hang-up, its idle timeout
// or the drain; elsewhere it waits in a goroutine of its own. On a plain
// TCP socket a keep-alive response's last bytes are written by the wait for
// the next request, in one poller round (sendThenRead): one read(2) per
// request fewer, as nginx. Over TLS the same holds the last records, under
// the tls.Conn (tlsHold); a response to a request whose body was read
// whole is held too. A request's fields are also a list in their order
// (RequestFields), and a handler that reads no http.Request.Header
// (HeaderMapReader: Baton's proxy running the router) gets none made.
// HTTP/2 (ALPN "h2",
// or the h2c preface in cleartext) goes to x/net/http2's ServeConn with the
// same handler; net/http's Server serves nothing. Its writes go through a
// batchConn, which sends the frames it flushes one by one (a response's
// HEADERS, then its DATA) in one write when they pile up under load.
//
// The lifecycle is built for handing listeners to a successor process:
// StopAccepting stops this process from accepting without closing the
// sockets, so connections that arrive meanwhile wait in the kernel's queue
// for the successor, which holds duplicates of the same sockets (Options.
// Inherited). Shutdown then drains what this process still serves; Close
// stops at once; Run ties SIGTERM (drain within GracePeriod) and SIGINT
// (fast stop) to them.
package server
