package server

import "net/http"

// h2Handler runs a listener's handler for x/net/http2, which starts a
// goroutine per stream: with the runtime's small starting stack, every
// request outgrows it deep in the proxy (routing, the upstream request,
// the upstream client's read), and the runtime then copies the stack and
// rewrites every frame on it: about 8% of an h2c request's CPU in make
// bench. Growing the stack once at the top, while it holds a
// handful of frames, makes that copy cheap; the goroutine ends with the
// stream, so the larger stack lives no longer than the request.
type h2Handler struct{ h http.Handler }

func (h h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reserveStack()
	h.h.ServeHTTP(w, r)
}

// h2StackBytes is the frame reserveStack takes: with what a request needs
// below it, the stack a proxied request's deepest call fits in.
const h2StackBytes = 6 << 10

// stackProbe is always 0: an index the compiler cannot see through, so
// that reserveStack keeps its frame.
var stackProbe int

//go:noinline
func reserveStack() byte {
	var frame [h2StackBytes]byte
	frame[stackProbe] = 1
	return frame[stackProbe]
}
