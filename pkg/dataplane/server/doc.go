// Package server runs the data plane's listeners, shaped like Pingora's
// Server: a Server owns Services, each Service has listeners (cleartext or
// TLS) and one http.Handler (the proxy application).
//
// Cleartext listeners serve HTTP/1.1 and HTTP/2 with prior knowledge (h2c);
// TLS listeners serve HTTP/1.1 and HTTP/2 chosen by ALPN, TLS 1.2 at least.
// A listener may require the PROXY protocol (v1 or v2), read below TLS and
// below the HTTP/1 request guard; its client address becomes RemoteAddr.
//
// The lifecycle is built for handing listeners to a successor process:
// StopAccepting stops this process from accepting without closing the
// sockets, so connections that arrive meanwhile wait in the kernel's queue
// for the successor, which holds duplicates of the same sockets (Options.
// Inherited). Shutdown then drains what this process still serves; Close
// stops at once; Run ties SIGTERM (drain within GracePeriod) and SIGINT
// (fast stop) to them.
package server
