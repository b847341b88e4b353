package server

import (
	"context"
	"net/http"
	"sync"
)

// h2Stream is an HTTP/2 request's context as its handler sees it: x/net's
// stream context, which ends when the client resets the stream, the
// connection ends or the handler returns, and which Watch registers on
// without an allocation, as connCtx does. The proxy watches every
// request's context for a client gone; on x/net's context that was a
// context.AfterFunc: five allocations per stream (a child context, its
// stop function, the children map of the stream's cancelCtx and its
// group, and its Done channel), a seventh of an h2c request's. Here the
// stream's goroutine, which waits for the handler's worker anyway, waits
// for the context's end too (its Done channel and the h2Stream are the
// allocations left) and calls the watchers itself.
//
// h2Stream is never reused: contexts derived from it may outlive the
// stream.
type h2Stream struct {
	context.Context // x/net's
	mu              sync.Mutex
	ended           bool      // watchers were called, or are being called
	detached        bool      // the handler returned: context.AfterFunc waits for the end (see detach)
	watchers        watchList // what Watch registered and is still to run
}

// h2Requests are the requests handed to HTTP/2 handlers, each carrying
// its stream's h2Stream: a request is the handler's until it returns,
// then the next stream's, as an HTTP/1 connection's request is the next
// request's (see h1conn). Made per stream, with the h2Stream, it made
// x/net's request of 250 bytes twice, a tenth of an h2c request's bytes.
var h2Requests = sync.Pool{New: func() any { return new(http.Request) }}

// streamRequest is r carrying its stream's h2Stream, for the handler.
func streamRequest(r *http.Request) (*http.Request, *h2Stream) {
	st := &h2Stream{Context: r.Context()}
	req := h2Requests.Get().(*http.Request)
	*req = *r.WithContext(st)
	return req, st
}

// releaseRequest takes req back from a handler that returned. A
// multipart form parsed on it goes to x/net's request, so that x/net
// removes its files as it would have.
func releaseRequest(r, req *http.Request) {
	if req.MultipartForm != nil && r.MultipartForm == nil {
		r.MultipartForm = req.MultipartForm
	}
	*req = http.Request{} // keeps nothing of the stream alive
	h2Requests.Put(req)
}

// Watch calls w.ContextDone once the stream's context ended, unless
// Unwatch(w) is called first; after the end, at once in a goroutine of
// its own.
func (st *h2Stream) Watch(w interface{ ContextDone() }) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		go w.ContextDone()
		return
	}
	if st.detached && len(st.watchers.ws) == 0 {
		context.AfterFunc(st.Context, st.end)
	}
	st.watchers.add(w)
}

// Unwatch undoes Watch(w), and reports whether it kept w from being
// called.
func (st *h2Stream) Unwatch(w interface{ ContextDone() }) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.watchers.remove(w)
}

// end calls the watchers, on the stream's goroutine, which has nothing
// else to do.
func (st *h2Stream) end() {
	st.mu.Lock()
	ws := st.watchers.take()
	st.ended = true
	st.mu.Unlock()
	for _, w := range ws {
		w.ContextDone()
	}
}

// detach leaves the watchers still registered when the handler returned
// (a goroutine it left behind may watch) to context.AfterFunc: the
// stream's goroutine stops waiting for the context's end, which x/net
// brings right after.
func (st *h2Stream) detach() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.detached = true
	if !st.ended && len(st.watchers.ws) > 0 {
		context.AfterFunc(st.Context, st.end)
	}
}

// serve runs the job on a worker as workers.call does, calling the
// stream's watchers if its context ends meanwhile.
func (st *h2Stream) serve(p *workers[h2Job], j h2Job) {
	done := p.hand(task[h2Job]{job: j, waited: true}).done
	var res outcome
	select {
	case res = <-done:
	case <-st.Done():
		st.end()
		res = <-done
	}
	st.detach()
	res.rethrow()
}
