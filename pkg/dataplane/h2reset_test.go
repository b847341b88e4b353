package dataplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// An h2c client that resets its stream while the upstream has not
// answered has the upstream request aborted at once, its connection
// closed (nginx closes it too, and logs 499), rather than held until the
// upstream answers: the proxy's watch for a client gone learns of the
// reset from the stream's context (see server's h2Stream).
func TestH2StreamResetAbortsTheUpstreamRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got, closed := make(chan struct{}), make(chan struct{})
	go func() { // reads a request head, never answers, reports the close
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		if _, err := http.ReadRequest(r); err != nil {
			return
		}
		close(got)
		r.ReadByte() // returns once the proxy closes the connection
		close(closed)
	}()
	dp := start(t, Options{HTTPAddr: "127.0.0.1:0"}, snapshotTo(1, ln.Addr().String()))
	client := &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+dp.Addr(ListenerHTTP).String()+"/", nil)
	req.Host = "swap.test"
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	cancel() // RST_STREAM
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection stayed open after the client reset its stream")
	}
	<-done
}
