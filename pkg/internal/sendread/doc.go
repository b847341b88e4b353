// Package sendread writes a message and reads its answer in one turn of
// Go's network poller, as nginx's event loop does.
//
// A read on a Go socket resets the poller's readiness and tries read(2)
// at once, because waiting without trying could miss data that came
// before the reset (the poller is edge-triggered). Right after a message
// went out, its answer is not there yet: every exchange paid a read that
// found nothing (EAGAIN) before the wait, and the read after it. Written
// inside syscall.RawConn.Read, after the reset, the message's answer can
// only arrive after the reset too, so the wait cannot miss it, and one
// read finds it. The HTTP/1 server (a keep-alive response, then the next
// request) and the HTTP/1 upstream client (a request, then its response)
// both use it.
package sendread
