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
// error says why not, for logs and status. client is adapted to the
// protocol c needs (see ClientFor).
func Probe(ctx context.Context, client *http.Client, addr string, c Config) error {
	c = c.WithDefaults()
	client = ClientFor(client, c)
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if c.GRPC {
		return probeGRPC(ctx, client, addr, c)
	}
	return probeHTTP(ctx, client, addr, c)
}

func probeHTTP(ctx context.Context, client *http.Client, addr string, c Config) error {
	url := baseURL(addr, c) + c.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check GET %s: %w", url, err)
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	req.Header.Set("User-Agent", userAgent)
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

const userAgent = "baton-health-check"

func baseURL(addr string, c Config) string {
	if c.Protocol == HTTPS {
		return "https://" + addr
	}
	return "http://" + addr
}

// ClientFor returns client, or a copy whose transport speaks what c needs:
// HTTP/2 with prior knowledge for an H2C upstream (an HTTP/2-only server
// answers nothing else), and HTTP/2 over TLS for a gRPC check of an HTTPS
// one (gRPC has no HTTP/1.1 mapping). A client already set up that way,
// or whose transport is not an *http.Transport, is returned as it is; nil
// means NewClient().
// Checker calls it once, so probes do not copy the transport each time.
func ClientFor(client *http.Client, c Config) *http.Client {
	if client == nil {
		client = NewClient()
	}
	want := protocolsFor(c)
	tr, ok := client.Transport.(*http.Transport)
	if want == nil || !ok || (tr.Protocols != nil && *tr.Protocols == *want) {
		return client
	}
	tr = tr.Clone()
	tr.Protocols = want
	adapted := *client
	adapted.Transport = tr
	return &adapted
}

// protocolsFor is nil when the transport's defaults (HTTP/1.1) will do.
func protocolsFor(c Config) *http.Protocols {
	var p http.Protocols
	switch {
	case c.Protocol == HTTPS && c.GRPC:
		p.SetHTTP2(true)
	case c.Protocol == H2C || c.GRPC: // gRPC in cleartext is h2c whatever the upstream says
		p.SetUnencryptedHTTP2(true)
	default:
		return nil
	}
	return &p
}
