package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
	"github.com/baton-dev/baton/pkg/internal/monoclock"
)

const (
	// h1ReadBufferSize holds a response head; bodies larger than the
	// buffer are read past it, straight into the caller's buffer.
	h1ReadBufferSize = 16 << 10
	// expectContinueTimeout is how long a request with Expect:
	// 100-continue waits for the peer's go-ahead before sending its body
	// anyway (RFC 9110 §10.1.1), as http.Transport was configured.
	expectContinueTimeout = time.Second
	// max1xx bounds the informational responses skipped before the final
	// one, as http.Transport does.
	max1xx = 5
)

// h1Conn is one connection to a peer, used by one request at a time.
type h1Conn struct {
	client    *h1Client
	conn      net.Conn     // TLS or TCP
	wire      sendThenRead // what br reads
	br        *bufio.Reader
	h         h1.Head       // the latest response head
	body      h1.BodyReader // its body
	head      []byte        // the request head, built here and written in one write
	inlined   []byte        // the body that went in head, if one did (see appendBody)
	idleSince int64         // when it went back to the pool (monoclock.Nanos)
	readBy    int64         // the read deadline set last (monoclock.Nanos; 0 for none): see armResponseDeadline
	// takenAt is when (monoclock.Nanos) takeIdle took the connection
	// for the exchange under way, while nothing has waited since (its
	// request head is left to the response's read); 0 otherwise. The
	// response's deadline counts from it rather than from a clock read
	// of its own microseconds later (see armResponseDeadline).
	takenAt int64
	reused  bool // it served a request before: it may have died idle
	noReuse bool // the exchange left the connection in an unknown state
	stale   staleCheck
	last    *h1Response // the latest response made, for deliver
	abort   func()      // closes the socket under a blocked read or write
}

func newH1Conn(c *h1Client, nc net.Conn) *h1Conn {
	pc := &h1Conn{client: c, conn: nc}
	pc.wire.init(nc)
	pc.br = bufio.NewReaderSize(&pc.wire, h1ReadBufferSize)
	raw := nc
	if tc, ok := nc.(*tls.Conn); ok {
		raw = tc.NetConn() // closing it breaks a TLS read or write without an alert
	}
	pc.abort = func() { raw.Close() }
	pc.stale.init(raw)
	return pc
}

func (pc *h1Conn) close() { pc.conn.Close() }

// trim lets go of what an unusually large head grew, before the
// connection waits in the pool.
func (pc *h1Conn) trim() {
	pc.h.Trim()
	pc.inlined = nil
	if cap(pc.head) > maxPooledHeadBuffer {
		pc.head = nil
	}
}

const maxPooledHeadBuffer = 16 << 10

// closedByPeer reports whether the peer closed the idle connection or sent
// something unasked, either of which rules it out for another request.
// The socket is not polled (a recvfrom(2), one in seven system calls of a
// keep-alive exchange) when the connection came back less than
// staleCheckAfter ago and the request can go again on a new connection
// should this one be dead (see exchange): a close is then no loss, and
// what the poll also catches, a peer that answers what was not asked (a
// 408 before it closes), comes at its idle timeout, which is seconds.
func (pc *h1Conn) closedByPeer(now int64, repeatable bool) bool {
	if pc.br.Buffered() > 0 {
		return true
	}
	if repeatable && time.Duration(now-pc.idleSince) < pc.client.staleCheckAfter {
		return false
	}
	return pc.stale.readable()
}

// staleCheckAfter is how long a pooled connection idles before it is
// polled for a close even when a request on it could be repeated: long
// enough for a pool that serves many requests at once (each connection of
// an h2 burst of hundreds waits tens of milliseconds for its turn), short
// against any peer's idle timeout.
const staleCheckAfter = 100 * time.Millisecond

// roundTrip sends req and reads the response head, whose fields head
// has. retry reports that
// the failure happened on a reused connection before the peer can have
// acted on the request, so that it may be sent again on a new one.
func (pc *h1Conn) roundTrip(req *http.Request, out *Request, resend []byte) (resp *http.Response, head *Response, retry bool, err error) {
	// A client that goes away ends the exchange, whatever it waits for.
	stop := watchContext(req.Context(), pc.abort)
	resp, retry, err = pc.exchange(req, out, resend)
	if err != nil {
		if stop != nil {
			stop()
		}
		return nil, nil, retry, err
	}
	head = &pc.last.head // the response's storage, which deliver forgets
	pc.deliver(req, resp, stop)
	return resp, head, false, nil
}

// exchange writes the request, whose head out has, and reads the head of
// the final response.
//
// resend is the body a previous attempt of the request inlined (see
// appendBody) and did not send: it cannot be read again from req.
func (pc *h1Conn) exchange(req *http.Request, out *Request, resend []byte) (*http.Response, bool, error) {
	withBody := req.Body != nil && req.Body != http.NoBody
	chunked := withBody && (req.ContentLength <= 0 || len(req.Trailer) > 0)
	head, err := appendRequestHead(pc.head[:0], out, req, withBody, chunked)
	if err != nil {
		return nil, false, err
	}
	pc.head, pc.inlined = head, nil
	if req.Close {
		pc.noReuse = true // the head said so (see appendFraming)
	}
	if resp, retry, err := pc.send(req, out, withBody, chunked, resend); resp != nil || err != nil {
		return resp, retry, err
	}
	resp, gotNothing, err := pc.readResponse(req)
	if err != nil && pc.wire.unsent {
		return nil, pc.reused, err // as a failed Write above: no byte of the head went
	}
	if err != nil {
		// Nothing came back: a reused connection the peer closed just as
		// the request went out, which a safe request may redo.
		return nil, gotNothing && pc.reused && !withBody && safeToRepeat(req) && isClosedConn(err), err
	}
	return resp, false, nil
}

// send writes the request whose head pc.head has, or leaves it to the
// response's first read: the head, then the body, or both in one write
// when the body is small and all in (see inlinesBody). It returns a
// response the peer sent instead of taking the body, and whether a
// failure may be retried on another connection (see exchange).
func (pc *h1Conn) send(req *http.Request, out *Request, withBody, chunked bool, resend []byte) (*http.Response, bool, error) {
	head, bodyFollows := pc.head, withBody
	if withBody && !chunked && inlinesBody(req, out, len(head), resend) {
		var err error
		if head, err = pc.appendBody(head, req, resend); err != nil {
			return nil, false, err // the client's failure, before any byte went
		}
		bodyFollows = false
	}
	if !pc.deferHead(head, bodyFollows) {
		pc.takenAt = 0 // the write may wait for the peer
		if n, err := pc.conn.Write(head); err != nil {
			// A reused connection that took nothing was closed while idle.
			return nil, pc.reused && n == 0, err
		}
	}
	if !bodyFollows {
		return nil, false, nil
	}
	resp, err := pc.sendBody(req, out, chunked)
	return resp, false, err
}

// readWhole fills p from body, which said it is buffered; the proxy's
// own body then skips its watchdog (see requestBody.readBuffered).
func readWhole(body io.Reader, p []byte) error {
	var err error
	if b, ok := body.(*requestBody); ok {
		_, err = b.readBuffered(p)
	} else {
		_, err = io.ReadFull(body, p)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// maxInlineRequest bounds a request head and the body sent with it in
// one write (see inlinesBody): the buffer stays small enough to be kept
// between requests (maxPooledHeadBuffer), and a socket's initial send
// buffer (16 KiB, tcp_wmem) takes it at once. A larger body saves one
// write(2) of several that copy it anyway. Baton's server reads 4 KiB at a
// time, so through it the bodies that come whole are smaller still.
const maxInlineRequest = maxPooledHeadBuffer

// inlinesBody reports whether req's body, of a known length, goes in one
// write with its head, headLen bytes: when it is small and all of it can
// be read at once without waiting for the client (resend, a previous
// attempt's copy of it, or a body that says it is buffered). A body still
// coming streams, so that a slow client holds the upstream connection no
// longer than its bytes take, and one that waits for 100 Continue waits.
func inlinesBody(req *http.Request, out *Request, headLen int, resend []byte) bool {
	if req.ContentLength > int64(maxInlineRequest-headLen) || out.Header.hasToken("Expect", "100-continue") {
		return false
	}
	if resend != nil {
		return true
	}
	b, ok := req.Body.(bufferedBody)
	return ok && b.Buffered()
}

// appendBody appends req's whole body to head: resend, or ContentLength
// bytes read from the body, which pc.inlined keeps in case the request
// must go again on another connection (see h1Client.roundTripHead). A
// body that ends sooner is the client's failure, as with copyLength.
func (pc *h1Conn) appendBody(head []byte, req *http.Request, resend []byte) ([]byte, error) {
	start := len(head)
	if resend != nil {
		head = append(head, resend...)
	} else {
		head = slices.Grow(head, int(req.ContentLength))[:start+int(req.ContentLength)]
		if err := readWhole(req.Body, head[start:]); err != nil {
			return head[:start], err
		}
	}
	pc.head, pc.inlined = head, head[start:]
	return head, nil
}

// deferHead leaves a head no body follows (it has none, or carries it)
// to the response's first read, which sends it (see sendThenRead), and
// reports whether it did.
func (pc *h1Conn) deferHead(head []byte, bodyFollows bool) bool {
	return !bodyFollows && pc.br.Buffered() == 0 && pc.wire.deferSend(head)
}

// sendBody sends the request body, after the peer's go-ahead if the
// request expects one. It returns a response the peer sent instead of
// taking the body, and a failure to read the body (the client's) as is.
func (pc *h1Conn) sendBody(req *http.Request, out *Request, chunked bool) (*http.Response, error) {
	if out.Header.hasToken("Expect", "100-continue") {
		resp, err := pc.awaitContinue(req)
		if resp != nil || err != nil {
			pc.noReuse = true // the body the head announced was not sent
			return resp, err
		}
	}
	clientErr, peerErr := pc.writeBody(req, chunked)
	if clientErr != nil {
		return nil, clientErr
	}
	if peerErr != nil {
		// The peer may have answered early and stopped reading (a 413,
		// say): its answer is better than the write error.
		pc.noReuse = true
		resp, _, err := pc.readResponse(req)
		if err != nil {
			return nil, peerErr
		}
		return resp, nil
	}
	return nil, nil
}

// awaitContinue waits for 100 Continue, at most expectContinueTimeout. It
// returns the final response a peer sent instead (417, 401, ...), or
// nothing when the body should go.
func (pc *h1Conn) awaitContinue(req *http.Request) (*http.Response, error) {
	for range max1xx {
		if err := pc.awaitResponse(expectContinueTimeout); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, nil // silence is consent, after a while
			}
			return nil, err
		}
		if err := pc.readHeadWithin(req.Method, pc.client.responseTimeout); err != nil {
			return nil, err
		}
		switch status := pc.h.Status; {
		case status == http.StatusContinue:
			return nil, nil
		case status >= 200 || status == http.StatusSwitchingProtocols:
			return pc.response(req), nil
		}
	}
	return nil, errTooMany1xx
}

var errTooMany1xx = errors.New("too many 1xx informational responses")

// awaitResponse waits up to limit for the first byte of a response, which
// reads leave in the buffer.
func (pc *h1Conn) awaitResponse(limit time.Duration) error {
	if pc.br.Buffered() > 0 {
		return nil
	}
	pc.setReadDeadline(monoclock.Nanos() + int64(limit))
	defer pc.setReadDeadline(0)
	_, err := pc.br.Peek(1)
	return err
}

// readHeadWithin reads a response head whose first byte came, within limit.
func (pc *h1Conn) readHeadWithin(method string, limit time.Duration) error {
	if limit > 0 {
		pc.setReadDeadline(monoclock.Nanos() + int64(limit))
		defer pc.setReadDeadline(0)
	}
	return pc.readHead(method)
}

// readResponse reads the final response head within the response timeout,
// counted from now: once the request is written, so that a slow upload
// is not a slow peer. gotNothing reports that no byte of it came.
//
// The deadline is left in place when the whole response is in the buffer
// (see keepsDeadline): nothing reads the socket again before the next
// request, which saves disarming a timer per request, and the next
// request may find it good enough to keep (see armResponseDeadline).
func (pc *h1Conn) readResponse(req *http.Request) (resp *http.Response, gotNothing bool, err error) {
	limit := pc.client.responseTimeout
	if limit > 0 {
		pc.armResponseDeadline(limit)
	}
	if _, err = pc.br.Peek(1); err != nil {
		gotNothing = true
	} else {
		resp, err = pc.readFinalResponse(req)
	}
	if limit > 0 && !pc.keepsDeadline(resp) {
		pc.setReadDeadline(0)
	}
	return resp, gotNothing, err
}

// maxResponseSlack bounds how much later than its limit a response
// timeout may fire (see armResponseDeadline); nginx's timers are lazy by
// 300 ms alike (NGX_TIMER_LAZY_DELAY).
const maxResponseSlack = 300 * time.Millisecond

// armResponseDeadline bounds the wait for a response by limit from now,
// and by at most limit/16 (maxResponseSlack at most) more: it sets the
// deadline that much later, and keeps a deadline the previous exchange
// left (see keepsDeadline) while it falls in that window. Busy keep-alive
// connections then re-arm their timer every slack, not every request.
func (pc *h1Conn) armResponseDeadline(limit time.Duration) {
	now := pc.takenAt // the request is not sent yet: the same instant
	if pc.takenAt = 0; now == 0 {
		now = monoclock.Nanos()
	}
	want := now + int64(limit)
	slack := int64(min(limit/16, maxResponseSlack))
	if pc.readBy >= want && pc.readBy-want <= slack {
		return
	}
	pc.setReadDeadline(want + slack)
}

// setReadDeadline sets the connection's read deadline to by (monoclock.Nanos;
// 0 clears it) and remembers it.
func (pc *h1Conn) setReadDeadline(by int64) {
	pc.readBy = by
	t := time.Time{}
	if by != 0 {
		t = monoclock.At(by)
	}
	_ = pc.conn.SetReadDeadline(t)
}

// keepsDeadline: resp, the final response, is whole in the buffer, and so
// is read without reading the socket (a tunnel after 101 reads it).
func (pc *h1Conn) keepsDeadline(resp *http.Response) bool {
	if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return false
	}
	return resp.Body == http.NoBody || pc.body.Buffered() // pc.body frames a body only

}

// readFinalResponse reads response heads until one is not informational,
// the 101 of a protocol switch included. Other 1xx are not forwarded (as
// http.Transport did not).
func (pc *h1Conn) readFinalResponse(req *http.Request) (*http.Response, error) {
	for range max1xx + 1 {
		if err := pc.readHead(req.Method); err != nil {
			return nil, err
		}
		if pc.h.Status >= 200 || pc.h.Status == http.StatusSwitchingProtocols {
			return pc.response(req), nil
		}
	}
	return nil, errTooMany1xx
}

// isClosedConn: the peer closed or reset the connection.
func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// deliver gives the response a body that reads from the connection and
// decides the connection's fate when the body is done.
func (pc *h1Conn) deliver(req *http.Request, resp *http.Response, stop func() bool) {
	// The parser sets Close for HTTP/1.0 without keep-alive and for bodies
	// delimited by close; a keep-alive HTTP/1.0 peer is not trusted either.
	reuse := !pc.noReuse && !resp.Close && resp.ProtoAtLeast(1, 1)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if stop != nil {
			stop() // the tunnel watches the client itself
		}
		resp.Body = &h1Tunnel{r: pc.br, conn: pc.conn}
		return
	}
	var b *h1Body
	if x := pc.last; x != nil && &x.resp == resp {
		b = &x.body
	} else {
		b = new(h1Body)
	}
	pc.last = nil
	b.pc, b.resp, b.stop, b.reuse = pc, resp, stop, reuse
	if resp.Body == http.NoBody {
		b.finish(reuse)
		return
	}
	resp.Body = b
}

// h1Body is a response body read from the connection. At a clean end it
// returns the connection to the pool; an error or an early Close (which
// may come from another goroutine, to break a stalled Read) closes it.
type h1Body struct {
	pc    *h1Conn
	resp  *http.Response // for its trailer
	stop  func() bool
	reuse bool
	state atomic.Int32 // bodyReading, then bodyDone or bodyClosed
}

const (
	bodyReading int32 = iota
	bodyDone
	bodyClosed
)

var errBodyClosed = errors.New("read on a closed response body")

func (b *h1Body) Read(p []byte) (int, error) { return b.readAt(p, 0) }

// readAt is Read for a caller that read the clock at now (monoclock.Nanos)
// with nothing waiting since, 0 if it did not: an end of the body the read
// finds returns the connection to the pool as idle since then, without a
// clock read of its own (an idle time longer by microseconds).
func (b *h1Body) readAt(p []byte, now int64) (int, error) {
	switch b.state.Load() {
	case bodyDone:
		return 0, io.EOF // the connection may serve another request by now
	case bodyClosed:
		return 0, errBodyClosed
	}
	n, err := b.pc.body.Read(p)
	if err == nil && n > 0 && b.pc.body.Done() {
		// The last bytes come with EOF: the connection goes back to the
		// pool now, before the proxy's last write to its client, and
		// the proxy saves a flush.
		err = io.EOF
	}
	if err == io.EOF {
		copyTrailer(b.resp, b.pc.body.Trailer())
		b.finishAt(b.reuse, now)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

// buffered reports whether the rest of the body is in the connection's
// buffer, so that reading it cannot stall: it needs no watchdog, nor
// its clock read. Only the body's reader may ask.
func (b *h1Body) buffered() bool {
	return b.state.Load() == bodyReading && b.pc.body.Buffered()
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}

// finish settles the connection once: pooled after a clean end, closed
// otherwise. A context watch that already fired has closed the socket.
func (b *h1Body) finish(clean bool) { b.finishAt(clean, 0) }

// finishAt is finish with the clock read at now, 0 if unread (see readAt).
func (b *h1Body) finishAt(clean bool, now int64) {
	state := bodyClosed
	if clean {
		state = bodyDone
	}
	if !b.state.CompareAndSwap(bodyReading, state) {
		return
	}
	if b.stop != nil && !b.stop() {
		clean = false
	}
	if clean {
		b.pc.client.putAt(b.pc, now)
	} else {
		b.pc.close()
	}
}

// h1Tunnel is the connection after 101 Switching Protocols, bytes the
// peer sent after the head included; the proxy splices it to the client.
type h1Tunnel struct {
	r    *bufio.Reader
	conn net.Conn
	once sync.Once
}

func (t *h1Tunnel) Read(p []byte) (int, error)  { return t.r.Read(p) }
func (t *h1Tunnel) Write(p []byte) (int, error) { return t.conn.Write(p) }
func (t *h1Tunnel) Close() error {
	t.once.Do(func() { t.conn.Close() })
	return nil
}
