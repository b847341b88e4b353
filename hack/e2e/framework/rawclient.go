package framework

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// KeepAliveClient sends GETs over one kept-alive TCP connection at a time,
// as a browser or a load balancer does, and never retries: a request that
// meets a closed or reset connection is a failure, and only the next
// request opens a new connection. http.Client would resend such an
// idempotent request by itself and hide exactly the failures the handoff,
// drain and churn tests are there to find. Not safe for concurrent use:
// one per load worker.
type KeepAliveClient struct {
	addr    string
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
}

// NewKeepAliveClient returns a client for addr; timeout bounds each request.
func NewKeepAliveClient(addr string, timeout time.Duration) *KeepAliveClient {
	return &KeepAliveClient{addr: addr, timeout: timeout}
}

// Get sends one GET and returns the status and the X-Pod header. The
// connection is kept unless the server said Connection: close or anything
// failed.
func (c *KeepAliveClient) Get(host, path string) (int, string, error) {
	if err := c.connect(); err != nil {
		return 0, "", err
	}
	status, pod, keep, err := c.exchange(host, path)
	if err != nil || !keep {
		c.Close()
	}
	return status, pod, err
}

func (c *KeepAliveClient) connect() error {
	if c.conn != nil {
		return nil
	}
	conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return err
	}
	c.conn, c.br = conn, bufio.NewReader(conn)
	return nil
}

func (c *KeepAliveClient) exchange(host, path string) (status int, pod string, keep bool, err error) {
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, "", false, err
	}
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return 0, "", false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", false, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, "", false, err
	}
	return resp.StatusCode, resp.Header.Get("X-Pod"), !resp.Close, nil
}

// Connected tells whether a connection is open, so that the next Get
// reuses it rather than dialing first.
func (c *KeepAliveClient) Connected() bool { return c.conn != nil }

// Close drops the connection; the next Get opens a new one.
func (c *KeepAliveClient) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}
