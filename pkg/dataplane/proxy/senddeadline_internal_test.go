package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

// deadlineWriter is an HTTP/1 connection's response writer that fails the
// test when a write starts under a write deadline nearer than the send
// timeout: one kept from an earlier response (see senddeadline.go) must
// never cut a write short.
type deadlineWriter struct {
	t        *testing.T
	limit    time.Duration // the send timeout
	h        http.Header
	deadline time.Time
	sets     int // SetWriteDeadline calls
}

func (w *deadlineWriter) Header() http.Header { return w.h }
func (w *deadlineWriter) WriteHeader(int)     { w.check("WriteHeader") }
func (w *deadlineWriter) Flush()              { w.check("Flush") }
func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.check("Write")
	return len(b), nil
}

func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.sets++
	w.deadline = t
	return nil
}

func (w *deadlineWriter) check(what string) {
	w.t.Helper()
	if left := time.Until(w.deadline); !w.deadline.IsZero() && left < w.limit {
		w.t.Errorf("%s started %v before the write deadline, less than the send timeout %v", what, left, w.limit)
	}
}

// sendDeadlineRig serves requests on one connection as ServeHTTP does,
// with the response written by write.
type sendDeadlineRig struct {
	p       *Proxy[struct{}]
	x       *exchange
	w       *deadlineWriter
	expired stall // what the response's watchdog broke
}

func newSendDeadlineRig(t *testing.T, limit time.Duration) *sendDeadlineRig {
	x := &exchange{writeBy: unknownWriteDeadline}
	return &sendDeadlineRig{
		p: &Proxy[struct{}]{opts: Options{SendTimeout: limit}},
		x: x,
		w: &deadlineWriter{t: t, limit: limit, h: http.Header{}},
	}
}

// serve answers one request; streamed responses bound their last flush.
func (r *sendDeadlineRig) serve(req *http.Request, streamed bool, write func(rw *responseWriter)) {
	r.x.begin(req, r.w, nil)
	r.p.openWriteDeadline(r.x, req)
	write(&r.x.writer)
	if streamed {
		r.p.boundLastFlush(req, &r.x.writer, r.expired)
	}
	r.p.closeWriteDeadline(r.x)
}

// lastFlushBound checks the deadline the last flush runs under: the send
// timeout from the end of the handler, late by the slack at most.
func (r *sendDeadlineRig) lastFlushBound(t *testing.T, handlerDone time.Time) {
	t.Helper()
	limit := r.p.opts.SendTimeout
	slack := time.Duration(r.p.sendSlack())
	if r.w.deadline.IsZero() {
		t.Fatal("the last flush runs without a write deadline")
	}
	if got := r.w.deadline.Sub(handlerDone); got < limit || got > limit+slack+50*time.Millisecond {
		t.Fatalf("the last flush is cut %v after the handler ended, want %v to %v", got, limit, limit+slack)
	}
}

func writeSmall(rw *responseWriter) {
	rw.WriteHeader(http.StatusOK)
	rw.Write([]byte("ok"))
}

// Back-to-back keep-alive responses keep the write deadline the first
// set: no timer update per request, and the last flush of each is still
// bounded by the send timeout, late by the slack at most, never early.
func TestKeptWriteDeadlineBoundsEachLastFlush(t *testing.T) {
	const limit = 10 * time.Second // slack: 300ms, so the responses below come within it
	r := newSendDeadlineRig(t, limit)
	get := httptestRequest("GET", nil)
	for i := range 5 {
		r.serve(get, true, writeSmall)
		r.lastFlushBound(t, time.Now())
		if i == 0 && r.w.sets != 2 {
			t.Fatalf("first response: %d deadline updates, want 2 (clear the unknown one, bound the last flush)", r.w.sets)
		}
	}
	if r.w.sets != 2 {
		t.Fatalf("%d deadline updates for 5 back-to-back responses, want the first response's 2", r.w.sets)
	}
}

// A send stall the watchdog broke moved the connection's write deadline
// into the past: the last flush of that response gets one anew, the one
// the exchange remembers notwithstanding.
func TestLastFlushAfterABrokenSendStallGetsADeadline(t *testing.T) {
	r := newSendDeadlineRig(t, 10*time.Second)
	get := httptestRequest("GET", nil)
	r.serve(get, true, writeSmall)
	r.expired = clientSend
	r.serve(get, true, func(rw *responseWriter) {
		writeSmall(rw)
		breakStall(clientSend, rw.ResponseWriter, nil) // as the watchdog's timer does
	})
	r.lastFlushBound(t, time.Now())
}

// A kept deadline is lifted before a write it could cut short: one that
// starts later than the slack allows, one after a handler that ends too
// late for it, and for a request with a body (a 100 Continue no check
// sees); a deadline set from outside the proxy is not trusted again.
func TestKeptWriteDeadlineNeverCutsAWriteShort(t *testing.T) {
	const limit = 160 * time.Millisecond          // slack: 10ms
	wait := func() { time.Sleep(3 * limit / 16) } // past the slack
	cases := map[string]struct {
		req      *http.Request
		streamed bool
		write    func(t *testing.T, rw *responseWriter)
	}{
		"late write": {httptestRequest("GET", nil), true, func(t *testing.T, rw *responseWriter) {
			rw.WriteHeader(http.StatusOK)
			wait()
			rw.Write([]byte("late"))
			wait()
			rw.Flush()
		}},
		"late write after a watchdog's clock read": {httptestRequest("GET", nil), true, func(t *testing.T, rw *responseWriter) {
			rw.keepDeadlineAt(monoclock.Nanos())
			rw.WriteHeader(http.StatusOK)
			wait()
			rw.keepDeadlineAt(monoclock.Nanos())
			rw.Write([]byte("late"))
		}},
		"late end of an unstreamed response": {httptestRequest("GET", nil), false, func(t *testing.T, rw *responseWriter) {
			writeSmall(rw)
			wait()
		}},
		"request body": {httptestRequest("POST", strings.NewReader("x")), true, func(t *testing.T, rw *responseWriter) {
			if rw.kept || !rw.session.x.writer.ResponseWriter.(*deadlineWriter).deadline.IsZero() {
				t.Error("a request with a body started under a kept deadline")
			}
			writeSmall(rw)
		}},
		"deadline set from outside": {httptestRequest("GET", nil), true, func(t *testing.T, rw *responseWriter) {
			http.NewResponseController(rw).SetWriteDeadline(time.Now().Add(time.Hour))
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := newSendDeadlineRig(t, limit)
			get := httptestRequest("GET", nil)
			r.serve(get, true, writeSmall)
			r.serve(c.req, c.streamed, func(rw *responseWriter) { c.write(t, rw) })
			if c.streamed {
				r.lastFlushBound(t, time.Now())
			} else if !r.w.deadline.IsZero() && time.Until(r.w.deadline) < limit {
				t.Fatalf("the last flush of an unstreamed response runs under a deadline %v away", time.Until(r.w.deadline))
			}
			time.Sleep(limit / 8)
			before := r.w.sets
			r.serve(get, true, writeSmall) // checks the deadline it starts under
			if name == "deadline set from outside" && r.w.sets < before+2 {
				t.Fatal("a deadline set from outside was kept")
			}
		})
	}
}

func httptestRequest(method string, body *strings.Reader) *http.Request {
	r, _ := http.NewRequest(method, "http://x/", nil)
	if body != nil {
		r, _ = http.NewRequest(method, "http://x/", body)
	}
	return r
}
