package dataplane

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// defaultGracePeriod is the drain limit when Options.GracePeriod is zero,
// the server's default.
const defaultGracePeriod = 30 * time.Second

// RunOptions say when Run stops serving and whom it tells.
type RunOptions struct {
	// Signals delivers SIGTERM (drain) and SIGINT (stop now). Nil makes
	// Run subscribe to both itself; a caller that must also hear them
	// before Run (while waiting for its first snapshot) passes its own.
	Signals <-chan os.Signal
	// HandoffWait keeps serving after SIGTERM, up to this long, until a
	// successor takes the listeners. In a hostNetwork rollout the old pod
	// may be told to stop before the new one is ready to route; draining at
	// once would leave the node's ports with nobody accepting. Zero drains
	// at once.
	HandoffWait time.Duration
	// StayAfterHandoff keeps Run from returning, once a successor took the
	// listeners and the drain is over, until a signal arrives. In a pod,
	// exiting would restart the container (restartPolicy Always), and the
	// restarted process would take the listeners back.
	StayAfterHandoff bool
	// Serving runs once the listeners are served, Draining before the
	// drain starts, Stopped once nothing is served any more (before Run
	// waits for termination); nil ones are skipped. Readiness is the
	// usual listener.
	Serving, Draining, Stopped func()
}

// Run is the whole life of a data plane: Start (take the listeners from a
// predecessor or open them), serve, then stop on the first of
//   - SIGINT: stop at once;
//   - SIGTERM: drain within Options.GracePeriod (after HandoffWait);
//   - a successor taking the listeners: drain;
//   - ctx ending: drain, and return context.Cause(ctx) unless it is
//     plain cancellation.
//
// Call it once the first snapshot is applied (or with no router listeners,
// only Options.Services). cmd/controller, the bench proxy and embedders all
// stop this way.
func (d *DataPlane) Run(ctx context.Context, opts RunOptions) error {
	signals, unsubscribe := opts.signals()
	defer unsubscribe()
	if err := d.Start(ctx); err != nil {
		return err
	}
	call(opts.Serving)
	signalled, err := d.serveUntilStopped(ctx, signals, opts)
	call(opts.Stopped)
	if opts.StayAfterHandoff && !signalled && isClosed(d.takenOver) {
		d.opts.Logger.Info("listeners handed over and drained; waiting for termination")
		<-signals
	}
	return err
}

func (o RunOptions) signals() (<-chan os.Signal, func()) {
	if o.Signals != nil {
		return o.Signals, func() {}
	}
	c := make(chan os.Signal, 2)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	return c, func() { signal.Stop(c) }
}

func call(f func()) {
	if f != nil {
		f()
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// serveUntilStopped waits for the reason to stop, then stops, and reports
// whether a signal asked this process to end.
func (d *DataPlane) serveUntilStopped(ctx context.Context, signals <-chan os.Signal, opts RunOptions) (bool, error) {
	grace := cmp.Or(d.opts.GracePeriod, defaultGracePeriod)
	var cause error
	signalled := false
	select {
	case sig := <-signals:
		signalled = true
		if sig == syscall.SIGINT || !d.awaitSuccessor(opts.HandoffWait, signals) {
			d.opts.Logger.Info("SIGINT: stopping now")
			return true, d.Close()
		}
		d.opts.Logger.Info("SIGTERM: draining", slog.Duration("grace", grace))
	case <-d.takenOver:
		d.opts.Logger.Info("a successor took the listeners: draining", slog.Duration("grace", grace))
	case <-ctx.Done():
		if cause = context.Cause(ctx); errors.Is(cause, context.Canceled) {
			cause = nil
		}
		level := slog.LevelInfo
		if cause != nil {
			level = slog.LevelError
		}
		d.opts.Logger.Log(ctx, level, "stopped by the caller: draining", slog.Duration("grace", grace), slog.Any("cause", cause))
	}
	call(opts.Draining)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		d.opts.Logger.Error("drain did not finish in time", slog.Any("err", err))
	}
	return signalled, cause
}

// awaitSuccessor keeps serving after SIGTERM for up to wait, until a
// successor takes the listeners (see RunOptions.HandoffWait). It reports
// false if SIGINT asked for a fast stop meanwhile.
func (d *DataPlane) awaitSuccessor(wait time.Duration, signals <-chan os.Signal) bool {
	if wait <= 0 {
		return true
	}
	d.opts.Logger.Info("SIGTERM: serving until a successor takes the listeners", slog.Duration("wait", wait))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-d.takenOver:
		d.opts.Logger.Info("a successor took the listeners")
	case <-timer.C:
		d.opts.Logger.Info("no successor took the listeners in time")
	case sig := <-signals:
		return sig != syscall.SIGINT
	}
	return true
}
