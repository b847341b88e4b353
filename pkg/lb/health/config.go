package health

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults for zero Config fields. They follow Kubernetes probe defaults
// (period 10s, timeout 1s, success 1, failure 3) because that is what the
// operators configuring Baton already expect.
const (
	DefaultPath      = "/"
	DefaultInterval  = 10 * time.Second
	DefaultTimeout   = time.Second
	DefaultHealthy   = 1
	DefaultUnhealthy = 3
)

// Protocol is what a check speaks to the address: the protocol of the
// upstream, since the check must reach the port the traffic does.
type Protocol uint8

const (
	HTTP1 Protocol = iota // cleartext HTTP/1.1
	H2C                   // cleartext HTTP/2 with prior knowledge
	HTTPS                 // TLS, HTTP/1.1 (HTTP/2 for gRPC checks)
)

// Config is a check sent to one address: an HTTP GET to Path, healthy on a
// status of 200-399 (redirects are not followed), or with GRPC a gRPC
// health check (grpc.health.v1.Health/Check) of GRPCService, healthy when
// the answer is SERVING. Zero fields take the Default* values.
type Config struct {
	Path        string
	Interval    time.Duration
	Timeout     time.Duration
	Healthy     int // consecutive successes to become healthy
	Unhealthy   int // consecutive failures to become unhealthy
	Protocol    Protocol
	Host        string // Host header (gRPC :authority), optional
	GRPC        bool
	GRPCService string // "" asks about the server as a whole
}

// Validate reports every field that cannot be used as given. WithDefaults
// still turns an invalid Config into a usable one, so a caller may log the
// error and carry on.
func (c Config) Validate() error {
	var errs []error
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		errs = append(errs, fmt.Errorf("health check path %q must start with /", c.Path))
	}
	if strings.ContainsAny(c.Path, " \r\n\t") {
		errs = append(errs, fmt.Errorf("health check path %q must not contain whitespace", c.Path))
	}
	if strings.ContainsAny(c.Host, " \r\n\t/") {
		errs = append(errs, fmt.Errorf("health check host %q is not a valid host", c.Host))
	}
	if c.Interval < 0 || c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("health check interval %v and timeout %v must not be negative", c.Interval, c.Timeout))
	}
	if c.Protocol > HTTPS {
		errs = append(errs, fmt.Errorf("health check protocol %d is unknown", c.Protocol))
	}
	if c.Healthy < 0 || c.Unhealthy < 0 {
		errs = append(errs, fmt.Errorf("health check thresholds healthy=%d unhealthy=%d must not be negative", c.Healthy, c.Unhealthy))
	}
	return errors.Join(errs...)
}

// WithDefaults returns c with every zero or invalid field replaced by its
// default, so a checker always has something sane to run.
func (c Config) WithDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	} else if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	if c.Protocol > HTTPS {
		c.Protocol = HTTP1
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Healthy <= 0 {
		c.Healthy = DefaultHealthy
	}
	if c.Unhealthy <= 0 {
		c.Unhealthy = DefaultUnhealthy
	}
	return c
}
