package server

import "net/http"

// h2Handler runs a listener's handler for x/net/http2 on a kept worker
// (see workers) rather than on the goroutine x/net starts per stream:
// that goroutine starts on a small stack, which every proxied request
// outgrew deep in the proxy (routing, the upstream request, the upstream
// client's read), once or twice. The stream's goroutine hands the request
// over and waits for it, so a stream costs two goroutine switches instead
// of stack copies, and x/net's goroutine stays small.
type h2Handler struct {
	h       http.Handler
	workers *workers[h2Job]
}

func (h h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, st := streamRequest(r)
	defer releaseRequest(r, req)
	st.serve(h.workers, h2Job{h.h, w, req})
}

// h2Job is one stream's handler call.
type h2Job struct {
	h http.Handler
	w http.ResponseWriter
	r *http.Request
}

func (j h2Job) run() { j.h.ServeHTTP(j.w, j.r) }
