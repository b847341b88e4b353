package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// h2Client is the HTTP/2 client for one peer: x/net/http2's Transport
// itself, which pools and multiplexes the connections, without net/http's
// Transport in front of it (its connection pool, its protocol switch and
// its per-request bookkeeping were paid for on every request and used for
// nothing). What net/http added that Baton needs, the response timeout, is
// here.
type h2Client struct {
	t *http2.Transport
	// responseTimeout bounds the wait for the response head, counted once
	// the request is written, as ResponseHeaderTimeout and the HTTP/1.1
	// client count it; 0 waits for as long as the request lives.
	responseTimeout time.Duration
}

var _ http.RoundTripper = (*h2Client)(nil)

// newH2Client is the client for h2c peers and HTTPS peers that chose h2,
// dialing with dial (which does TLS itself where there is any).
func newH2Client(k peerKey, dial func(context.Context, string, string) (net.Conn, error)) *h2Client {
	t := &http2.Transport{
		// Both: h2c peers are http URLs, HTTPS ones https; the dial, not
		// the scheme, decides whether there is TLS.
		AllowHTTP:          true,
		DisableCompression: true, // bodies pass through as they are
		IdleConnTimeout:    k.idleTimeout,
		ReadIdleTimeout:    30 * time.Second, // then a PING, which must come back within PingTimeout
		PingTimeout:        15 * time.Second,
		DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
			return dial(ctx, network, k.address)
		},
	}
	return &h2Client{t: t, responseTimeout: k.responseTimeout}
}

func (c *h2Client) CloseIdleConnections() { c.t.CloseIdleConnections() }

func (c *h2Client) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.responseTimeout <= 0 {
		return c.t.RoundTrip(req)
	}
	w := &headWatch{limit: c.responseTimeout}
	ctx, cancel := context.WithCancel(req.Context())
	w.cancel = cancel
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: w.wrote})
	resp, err := c.t.RoundTrip(req.WithContext(ctx))
	if w.stop() {
		// The head came (or the exchange failed) in time; the context
		// lives on for the body and ends with the request's.
		return resp, err
	}
	if err == nil {
		resp.Body.Close()
	}
	cancel()
	return nil, errResponseTimeout
}

// headWatch cancels a request whose response head is not in within limit
// of the request's last byte going out.
type headWatch struct {
	limit  time.Duration
	cancel context.CancelFunc
	mu     sync.Mutex
	timer  *time.Timer
	done   bool // stop was called: no timer any more
	fired  bool
}

// wrote is the trace's WroteRequest, called by the transport's writer.
func (w *headWatch) wrote(info httptrace.WroteRequestInfo) {
	if info.Err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.timer = time.AfterFunc(w.limit, w.expire)
	}
}

func (w *headWatch) expire() {
	w.mu.Lock()
	w.fired = !w.done
	w.mu.Unlock()
	if w.fired {
		w.cancel()
	}
}

// stop ends the watch and reports whether the head beat the timer.
func (w *headWatch) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	return !w.fired
}

// errResponseTimeout is a net.Error with Timeout true, as net/http's
// "timeout awaiting response headers" was: classify makes it a 504.
var errResponseTimeout error = responseTimeoutError{}

type responseTimeoutError struct{}

func (responseTimeoutError) Error() string   { return "timeout awaiting response headers" }
func (responseTimeoutError) Timeout() bool   { return true }
func (responseTimeoutError) Temporary() bool { return true }
