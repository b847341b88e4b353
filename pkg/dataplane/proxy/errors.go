package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// connectError marks a failure to connect to a peer (dial or TLS
// handshake): nothing of the request was sent, so retrying is safe.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// resetError marks a request that is safe to repeat (a method without side
// effects, no body) and got no response from the peer: the connection was
// reset or closed under it. Sending it again elsewhere is what a client
// would do, and it need not see the failure.
type resetError struct{ err error }

func (e *resetError) Error() string { return "no response: " + e.err.Error() }
func (e *resetError) Unwrap() error { return e.err }

// safeToRepeat: RFC 9110 §9.2.2 idempotent methods without a body to replay.
func safeToRepeat(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	}
	return false
}

// abortError marks a failure after the response headers went downstream.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

// clientGoneError wraps what failed because the downstream client left; it
// matches context.Canceled so that Logging can tell it from upstream trouble.
type clientGoneError struct{ err error }

func (e *clientGoneError) Error() string        { return e.err.Error() }
func (e *clientGoneError) Unwrap() error        { return e.err }
func (e *clientGoneError) Is(target error) bool { return target == context.Canceled }

func clientGone(err error) error {
	return clientFault(StatusClientClosedRequest, "client went away", err)
}

// clientFault is an error the client caused (a stall, an oversized body):
// like a client that went away, it says nothing about the upstream.
func clientFault(status int, reason string, err error) error {
	return &Error{Status: status, Reason: reason, Err: &clientGoneError{err: err}}
}

func tooLarge(limit int64) error {
	return clientFault(http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes", errBodyTooLarge)
}

// statusOf is the downstream status for an error that ended a request.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status <= 599 {
		return e.Status
	}
	return http.StatusInternalServerError
}

// writeError answers with a bare status. Reasons stay in the logs: they name
// upstreams and addresses that are none of the client's business.
func writeError(rw *responseWriter, status int) {
	body := http.StatusText(status)
	if body == "" {
		body = "Error " + strconv.Itoa(status)
	}
	body += "\n"
	h := rw.Header()
	clear(h) // whatever a phase set was meant for a different response
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if (status == http.StatusRequestEntityTooLarge || status == http.StatusRequestTimeout) && rw.session.Request.ProtoMajor == 1 {
		// What is left of the body on the wire will not be read: without
		// this, net/http would first wait to discard it.
		h["Connection"] = []string{"close"}
	}
	rw.WriteHeader(status)
	_, _ = io.WriteString(rw, body)
}

// checkRequest refuses what a reverse proxy cannot forward.
func checkRequest(r *http.Request) error {
	if r.Method == http.MethodConnect {
		return &Error{Status: http.StatusMethodNotAllowed, Reason: "CONNECT is not proxied"}
	}
	if r.URL == nil {
		return &Error{Status: http.StatusBadRequest, Reason: "request without a target"}
	}
	path := r.URL.Path
	if path == "*" && r.Method == http.MethodOptions {
		return nil
	}
	if path != "" && path[0] != '/' {
		return &Error{Status: http.StatusBadRequest, Reason: "request target is not an absolute path"}
	}
	return nil
}
