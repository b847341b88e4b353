package health

import (
	"context"
	"net/http"
	"time"
)

// Report is told whenever a checker changes its verdict about an address.
// err is the failure that tipped it to unhealthy, nil on recovery. It runs
// on the checker's goroutine and must not block for long.
type Report func(healthy bool, err error)

// Checker probes one address every Interval until Stop.
type Checker struct {
	addr   string
	cfg    Config
	cancel context.CancelFunc
	done   chan struct{}
}

// Start launches a checker for addr. healthy is the verdict it starts from,
// so a restarted checker (new config) continues from the address's current
// state instead of resetting it. The first probe is sent at once.
func Start(addr string, cfg Config, client *http.Client, healthy bool, report Report) *Checker {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{addr: addr, cfg: cfg.WithDefaults(), cancel: cancel, done: make(chan struct{})}
	client = ClientFor(client, c.cfg)
	go c.run(ctx, client, &tally{healthy: healthy}, report)
	return c
}

// Config is the configuration the checker runs with, defaults applied.
func (c *Checker) Config() Config { return c.cfg }

// Addr is the address the checker probes.
func (c *Checker) Addr() string { return c.addr }

// Stop cancels any probe in flight and waits for the checker to exit, so
// after Stop returns it will not call its Report again. Safe to call twice.
func (c *Checker) Stop() {
	c.cancel()
	<-c.done
}

func (c *Checker) run(ctx context.Context, client *http.Client, t *tally, report Report) {
	defer close(c.done)
	ticker := time.NewTicker(c.cfg.Interval)
	defer ticker.Stop()
	for {
		err := Probe(ctx, client, c.addr, c.cfg)
		if ctx.Err() != nil {
			return // a probe cut short by Stop says nothing about the backend
		}
		if t.observe(err == nil, c.cfg) {
			report(t.healthy, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// tally turns probe results into a verdict with hysteresis: the verdict
// flips only after Healthy consecutive successes or Unhealthy consecutive
// failures, so one slow response does not eject a backend.
type tally struct {
	healthy   bool
	successes int
	failures  int
}

// observe records one result and reports whether the verdict changed.
func (t *tally) observe(ok bool, c Config) bool {
	if ok {
		t.failures = 0
		t.successes++
		if !t.healthy && t.successes >= c.Healthy {
			t.healthy = true
			return true
		}
		return false
	}
	t.successes = 0
	t.failures++
	if t.healthy && t.failures >= c.Unhealthy {
		t.healthy = false
		return true
	}
	return false
}
