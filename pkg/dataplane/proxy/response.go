package proxy

import (
	"context"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// stream sends the upstream response downstream as it arrives.
func (p *Proxy[C]) stream(s *Session, rw *responseWriter, a *attempt) error {
	resp := a.resp
	a.head.Header.removeHopByHop()
	h := handOver(s, rw, &a.head.Header)
	announced := announceTrailers(h, resp.Trailer)
	dog := p.responseDog(s, rw.ResponseWriter, resp.Body)
	defer p.putDog(s, dog)
	watched := dog.watch(clientSend, p.opts.SendTimeout)
	rw.keepDeadlineAt(watched)
	rw.WriteHeader(a.head.StatusCode) // writes nothing yet: the head goes with the body or a flush
	if resp.ContentLength < 0 || announced > 0 {
		// A body of unknown length may trickle (SSE, gRPC streams): the
		// client should see the headers now, not with the first chunk.
		if err := rw.flush(); err != nil {
			return p.copyFailed(s.Request, a, dog, clientGone(err))
		}
		watched = 0 // the flush may have waited for the client
	}
	if err := p.copyBody(s.Request, rw, a, dog, watched); err != nil {
		return err
	}
	copyTrailers(h, resp.Trailer, announced)
	p.boundLastFlush(s.Request, rw, dog.rest())
	return nil
}

// fieldsTaker is the server's HTTP/1 response writer, which writes the
// fields of a list it is handed, in order, before those of its header
// map (see h1.HeadField).
type fieldsTaker interface {
	SetFields(fields []h1.HeadField) bool
}

// handOver puts the response's fields in the downstream response. The
// HTTP/1 writer takes the list itself: it is valid until the head is
// written, which is before the connection's next request. Other writers
// (HTTP/2's) get the fields in their header map, and keep their strings
// (see keepText). Either way a field the
// writer's map had already (a RequestFilter's) gives way to the
// upstream's of that name. It returns the writer's map, where the
// trailers go.
func handOver(s *Session, rw *responseWriter, h *Header) http.Header {
	m := rw.Header()
	if len(m) > 0 { // mostly empty: ranging over it would still cost
		for k := range m {
			if h.Has(k) {
				delete(m, k)
			}
		}
	}
	if ft, ok := rw.ResponseWriter.(fieldsTaker); ok && ft.SetFields(h.fields) {
		return m
	}
	keepText(s)
	slots := spareSlots(s, len(h.fields))
	for i, f := range h.fields {
		key := textproto.CanonicalMIMEHeaderKey(f.Name)
		if vv, ok := m[key]; ok {
			m[key] = append(vv, f.Value)
			continue
		}
		slots[i] = f.Value
		m[key] = slots[i : i+1 : i+1]
	}
	return m
}

// keepText gives up the exchange's response text, which the fields'
// names and values may be views of, to a writer that keeps them: x/net's
// HTTP/2 server encodes a head after the handler returned, when the
// exchange may serve another stream already, and its HPACK table keeps
// the strings for later heads. Writing the text again under it would
// change them (and break the table's index). The next response gets new
// text.
func keepText(s *Session) {
	if s.x != nil && s.x.respUsed {
		s.x.resp.text = nil
	}
}

// spareSlots is room for n values of a header map: the exchange's,
// reused, when it has one (the map's values are views of its storage
// anyway), else new.
func spareSlots(s *Session, n int) []string {
	if s.x == nil || !s.x.respUsed {
		return make([]string, n)
	}
	r := &s.x.resp
	if cap(r.slots) < n {
		r.slots = make([]string, n)
	}
	r.slots = r.slots[:n]
	return r.slots
}

// responseDog is the watchdog of a response: the one the exchange kept
// from its connection's previous response, or one from the pool. Kept,
// it costs a request no pool round trip, and its timer, still set for
// the previous response's deadline, seldom needs moving.
func (p *Proxy[C]) responseDog(s *Session, rw http.ResponseWriter, closer io.Closer) *watchdog {
	x := s.x
	if x == nil || x.dog == nil {
		return p.dogs.get(rw, closer)
	}
	dog := x.dog
	x.dog = nil
	dog.lend(rw, closer)
	return dog
}

// putDog gives the watchdog back: to the exchange, for its next
// response, or to the pool. One that broke a stall may still be closing
// the response body: the exchange holding the body is not reused.
func (p *Proxy[C]) putDog(s *Session, dog *watchdog) {
	stalled := dog.settle()
	switch {
	case stalled && s.x != nil:
		s.x.reusable = false
	case s.x != nil:
		s.x.dog = dog
		return
	}
	p.dogs.pool.Put(dog)
}

// copyBody copies without buffering the whole body, flushing each chunk.
// The watchdog bounds each read from the upstream and each write to the
// client; it keeps watching the last write, which net/http flushes after
// the handler returns.
//
// watched is when (monoclock.Nanos) the client send the watchdog watches
// began, nothing having waited since; 0 if it watches none. Until
// something may wait, that watch serves the first write as well: a body
// in the buffer whole, as most small ones are, is read and written with
// the clock read once, not twice (the same instant, microseconds apart).
func (p *Proxy[C]) copyBody(in *http.Request, rw *responseWriter, a *attempt, dog *watchdog, watched int64) error {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	readTimeout := orDefault(a.peer.ReadTimeout, p.opts.ReadTimeout)
	h1b, _ := a.resp.Body.(*h1Body)
	for {
		switch buffered := h1b != nil && h1b.buffered(); {
		case buffered && watched != 0:
			// The read takes what is buffered: it cannot stall, and
			// the send watched still starts now.
		case buffered:
			dog.rest() // the read takes what is buffered: it cannot stall
		default:
			dog.watch(upstreamRead, readTimeout)
			watched = 0
		}
		var n int
		var rerr error
		if h1b != nil {
			n, rerr = h1b.readAt(buf, watched) // an end found pools the connection, idle since watched
		} else {
			n, rerr = a.resp.Body.Read(buf)
		}
		if n > 0 {
			if watched == 0 {
				watched = dog.watch(clientSend, p.opts.SendTimeout)
			}
			rw.keepDeadlineAt(watched)
			watched = 0 // the write may wait for the client
			if _, err := rw.Write(buf[:n]); err != nil {
				return p.copyFailed(in, a, dog, clientGone(err))
			}
			// Data that came with EOF is flushed by net/http when the
			// handler returns; flushing here would cost a write more.
			if rerr == nil {
				if err := rw.flush(); err != nil {
					return p.copyFailed(in, a, dog, clientGone(err))
				}
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr == nil:
		case in.Context().Err() != nil:
			return p.copyFailed(in, a, dog, clientGone(in.Context().Err()))
		default:
			return p.copyFailed(in, a, dog, &Error{Status: http.StatusBadGateway, Reason: "reading the upstream response body failed", Err: rerr})
		}
	}
}

// copyFailed names the cause of a response cut short, which a stall the
// watchdog broke or a failed upload may hide behind the error seen. The
// response is under way, so it is aborted.
func (p *Proxy[C]) copyFailed(in *http.Request, a *attempt, dog *watchdog, err error) error {
	switch dog.expiredOn() {
	case upstreamRead:
		d := orDefault(a.peer.ReadTimeout, p.opts.ReadTimeout)
		err = &Error{Status: http.StatusGatewayTimeout, Reason: "upstream " + a.peer.Address + " sent no response body bytes for " + d.String(), Err: err}
	case clientSend:
		err = clientFault(StatusClientClosedRequest, "client took no response bytes for "+p.opts.SendTimeout.String(), err)
	default:
		if fault := a.body.fault(); fault != nil {
			err = fault
		} else if a.out.Context().Err() == context.DeadlineExceeded && in.Context().Err() == nil {
			err = &Error{Status: http.StatusGatewayTimeout, Reason: "upstream response did not complete within the request's timeout", Err: err}
		}
	}
	return &abortError{err: err}
}

// announceTrailers declares the trailers the upstream declared, so that
// net/http sends them after the body; it returns how many there were.
func announceTrailers(h http.Header, trailer http.Header) int {
	if len(trailer) == 0 {
		return 0
	}
	keys := make([]string, 0, len(trailer))
	for k := range trailer {
		keys = append(keys, k)
	}
	h["Trailer"] = []string{strings.Join(keys, ", ")}
	return len(trailer)
}

// copyTrailers sends the trailers that arrived with the end of the body.
// Trailers nobody announced (HTTP/2 peers need not) go out with
// http.TrailerPrefix, which net/http understands as "trailer after all".
func copyTrailers(h http.Header, trailer http.Header, announced int) {
	if len(trailer) == announced {
		for k, vv := range trailer {
			h[k] = vv
		}
		return
	}
	for k, vv := range trailer {
		h[http.TrailerPrefix+k] = vv
	}
}

// responseWriter records what was sent for the Session and Logging.
type responseWriter struct {
	http.ResponseWriter
	session     *Session
	wroteHeader bool
	kept        bool  // a write deadline of an earlier response is in force (see openWriteDeadline)
	keptUntil   int64 // the last time (monoclock.Nanos) a write may start under it
	checked     bool  // the next write starts under it (see keepDeadlineAt)
}

var _ http.Flusher = (*responseWriter)(nil)

func (w *responseWriter) WriteHeader(code int) {
	if w.kept {
		w.keepDeadline()
	}
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.wroteHeader = true
		w.session.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.kept {
		w.keepDeadline()
	}
	n, err := w.ResponseWriter.Write(b)
	w.session.BytesSent += int64(n)
	return n, err
}

// Flush lets phases that answer themselves stream too.
func (w *responseWriter) Flush() { _ = w.flush() }

func (w *responseWriter) flush() error {
	if w.kept {
		w.keepDeadline()
	}
	switch f := w.ResponseWriter.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
	}
	return nil // a writer that cannot flush sends when it can
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
