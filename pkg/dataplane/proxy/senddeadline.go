package proxy

import (
	"net/http"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// An HTTP/1 connection's write deadline bounds the server's last flush of
// a response, which no watchdog sees (see boundLastFlush). It is kept from
// one response of a keep-alive connection to the next rather than cleared
// when a request starts and set again when its response ends: those were
// two updates of the connection's timer per request, with four clock
// reads, the largest clock cost of a keep-alive request (issue 14).
//
// A kept deadline never cuts a write short of SendTimeout: it is set
// SendTimeout plus a slack from now, so it serves writes that start up to
// the slack later; a response that writes later than that first lifts it
// (responseWriter.keepDeadline), and one that streams sets it anew at its
// end, or keeps it while it is within the slack of SendTimeout from then.
// So the last flush is bounded by SendTimeout plus at most the slack:
// late by up to maxSendSlack, never early, as nginx's timers are lazy by
// 300 ms (NGX_TIMER_LAZY_DELAY).
const maxSendSlack = 300 * time.Millisecond

// unknownWriteDeadline is exchange.writeBy when the connection's write
// deadline is not known: a new exchange, or one set from outside.
const unknownWriteDeadline int64 = -1

// sendSlack is how much later than SendTimeout the last flush may be cut.
func (p *Proxy[C]) sendSlack() int64 {
	return int64(min(p.opts.SendTimeout/16, maxSendSlack))
}

// openWriteDeadline readies the write deadline for the response to r: one
// kept from the previous response stays, unless it is not known or the
// request has a body (the server may write a 100 Continue while the body
// is read, which no check here sees).
func (p *Proxy[C]) openWriteDeadline(x *exchange, r *http.Request) {
	if r.ProtoMajor != 1 || p.opts.SendTimeout <= 0 || x.writeBy == 0 {
		return
	}
	if x.writeBy == unknownWriteDeadline || (r.Body != nil && r.Body != http.NoBody) {
		x.writer.liftDeadline()
		return
	}
	x.writer.kept, x.writer.keptUntil = true, x.writeBy-int64(p.opts.SendTimeout)
}

// closeWriteDeadline, once the handler is done, lifts a kept deadline
// the response did not renew and that would cut its last flush before
// SendTimeout.
func (p *Proxy[C]) closeWriteDeadline(x *exchange) {
	if x.writer.kept {
		x.writer.keepDeadline()
	}
}

// boundLastFlush bounds the write the server makes after the handler
// returns (what is left in its buffers, the last chunk), which no
// watchdog sees, by SendTimeout from now plus at most the slack. expired
// is what the response's watchdog broke, which for clientSend moved the
// deadline into the past behind the exchange's back.
func (p *Proxy[C]) boundLastFlush(in *http.Request, rw *responseWriter, expired stall) {
	if in.ProtoMajor != 1 || p.opts.SendTimeout <= 0 {
		return
	}
	rw.kept, rw.checked = false, false
	now := monoclock.Nanos()
	rw.session.sentAt = now // for Elapsed: the response is handed over
	want, slack := now+int64(p.opts.SendTimeout), p.sendSlack()
	x := rw.session.x
	if x != nil && expired == noStall && x.writeBy >= want && x.writeBy-want <= slack {
		return
	}
	_ = http.NewResponseController(rw.ResponseWriter).SetWriteDeadline(monoclock.At(want + slack))
	if x != nil {
		x.writeBy = want + slack
	}
}

// keepDeadline lifts the kept write deadline (see openWriteDeadline) if a
// write starting now could be cut by it before SendTimeout. The writer's
// methods call it before they write, unless keepDeadlineAt just checked.
func (w *responseWriter) keepDeadline() {
	if w.checked {
		w.checked = false
		return
	}
	if monoclock.Nanos() > w.keptUntil {
		w.liftDeadline()
	}
}

// keepDeadlineAt is keepDeadline with the clock now a watchdog just read
// (0 for none) for a write that follows at once, nothing blocking between:
// that write makes no clock read of its own.
func (w *responseWriter) keepDeadlineAt(now int64) {
	switch {
	case !w.kept || now == 0:
	case now > w.keptUntil:
		w.liftDeadline()
	default:
		w.checked = true
	}
}

// liftDeadline clears the connection's write deadline.
func (w *responseWriter) liftDeadline() {
	_ = http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Time{})
	w.kept, w.checked = false, false
	if x := w.session.x; x != nil {
		x.writeBy = 0
	}
}

// SetWriteDeadline serves http.ResponseController: a deadline set from
// outside the proxy is one it no longer knows.
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	w.kept, w.checked = false, false
	if x := w.session.x; x != nil {
		x.writeBy = unknownWriteDeadline
	}
	return http.NewResponseController(w.ResponseWriter).SetWriteDeadline(t)
}
