package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// maxDrain bounds how much of a check's response body is read so the
// connection closes cleanly without letting a backend stream at us.
const maxDrain = 4 << 10

// NewClient returns the HTTP client checks use by default.
//
// It ignores proxy environment variables (checks must reach the pod, not a
// corporate proxy), keeps no idle connections (each check proves a fresh
// connect works, and removed addresses leave nothing behind), never follows
// redirects (a 3xx is itself healthy), and does not verify certificates:
// checks dial pod IPs that the certificate does not name, exactly like
// kubelet's HTTPS probes. Proxied traffic is verified separately.
func NewClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{KeepAlive: -1}).DialContext,
			DisableKeepAlives:   true,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see doc comment
			TLSHandshakeTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Probe sends one check to addr and returns nil when it is healthy. The
// error says why not, for logs and status.
func Probe(ctx context.Context, client *http.Client, addr string, c Config) error {
	c = c.WithDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	scheme := "http"
	if c.HTTPS {
		scheme = "https"
	}
	url := scheme + "://" + addr + c.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check GET %s: %w", url, err)
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	req.Header.Set("User-Agent", "baton-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("health check GET %s: status %d, want 200-399", url, resp.StatusCode)
	}
	return nil
}
