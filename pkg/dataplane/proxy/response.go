package proxy

import (
	"io"
	"net/http"
	"strings"
)

// stream sends the upstream response downstream as it arrives.
func (p *Proxy[C]) stream(s *Session, rw *responseWriter, resp *http.Response) error {
	removeHopByHop(resp.Header)
	h := rw.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	announced := announceTrailers(h, resp.Trailer)
	rw.WriteHeader(resp.StatusCode)
	if resp.ContentLength < 0 || announced > 0 {
		// A body of unknown length may trickle (SSE, gRPC streams): the
		// client should see the headers now, not with the first chunk.
		if err := rw.flush(); err != nil {
			return clientGone(err)
		}
	}
	if err := p.copyBody(s.Request, rw, resp.Body); err != nil {
		return err
	}
	copyTrailers(h, resp.Trailer, announced)
	return nil
}

// copyBody copies without buffering the whole body, flushing each chunk.
func (p *Proxy[C]) copyBody(in *http.Request, rw *responseWriter, body io.Reader) error {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := rw.Write(buf[:n]); err != nil {
				return clientGone(err)
			}
			// Data that came with EOF is flushed by net/http when the
			// handler returns; flushing here would cost a write more.
			if rerr == nil {
				if err := rw.flush(); err != nil {
					return clientGone(err)
				}
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr == nil:
		case in.Context().Err() != nil:
			return clientGone(in.Context().Err())
		default:
			return &abortError{err: &Error{Status: http.StatusBadGateway, Reason: "reading the upstream response body failed", Err: rerr}}
		}
	}
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
}

var _ http.Flusher = (*responseWriter)(nil)

func (w *responseWriter) WriteHeader(code int) {
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
	n, err := w.ResponseWriter.Write(b)
	w.session.BytesSent += int64(n)
	return n, err
}

// Flush lets phases that answer themselves stream too.
func (w *responseWriter) Flush() { _ = w.flush() }

func (w *responseWriter) flush() error {
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
