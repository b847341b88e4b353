package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// StopAccepting stops accept() on every listener without closing the
// sockets: connections that arrive from now on wait in the kernel's queue
// for another holder of the same sockets (the successor of a handoff).
// Connections already accepted are served on.
func (s *Server) StopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bound {
		if !b.gate.stop() {
			s.opts.Logger.Warn("server: listener cannot stop accepting without closing; closing it", slog.String("listener", b.name))
			_ = b.raw.Close()
		}
	}
}

// stopListening stops accepting and gives up this Server's hold on the
// sockets: closed unless someone in this process still uses them, and
// across a handoff the successor's duplicates keep them open. New
// connections are then refused, unless a successor accepts them.
func (s *Server) stopListening() ([]*bound, error) {
	s.StopAccepting()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return s.bound, nil
	}
	s.released = true
	var errs []error
	for _, b := range s.bound {
		errs = append(errs, release(b.raw))
	}
	return s.bound, errors.Join(errs...)
}

// Shutdown drains gracefully: it stops accepting, lets requests in flight
// finish and closes idle keep-alive connections. If ctx ends first, it stops
// at once and returns an error.
func (s *Server) Shutdown(ctx context.Context) error {
	// Before the listeners go: whoever sees them gone must also see every
	// further response close its connection.
	s.draining.Store(true)
	bound, closeErr := s.stopListening()
	s.lingerKeepAlives(ctx)
	for _, b := range bound {
		// hs serves no connection itself: its Shutdown runs the hook
		// that sends every HTTP/2 connection of b a GOAWAY.
		_ = b.hs.Shutdown(ctx)
	}
	err := s.waitServed(ctx)
	if err == nil {
		err = s.waitIdle(ctx)
	}
	if err != nil {
		n := s.inflight.Load()
		_ = s.Close()
		return fmt.Errorf("server: drain cut short with %d requests in flight: %w", n, err)
	}
	s.stop()
	return closeErr
}

// waitServed closes idle HTTP/1 connections until every connection has
// ended: busy ones after the request under way (draining makes it their
// last), HTTP/2 ones after their GOAWAY.
func (s *Server) waitServed(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.served.each(func(c served) { c.closeIfIdle() })
		if s.served.n.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop cancels what is left: hijacked connections' contexts, the watch
// for clients gone.
func (s *Server) stop() {
	s.cancelBase()
	s.stopOnce.Do(func() { close(s.stopWatch) })
	s.parker.stop()
	s.connWorkers.stop()
	s.h2workers.stop()
}

// drainLinger is how long a drain lets busy keep-alive connections cycle
// before idle ones are closed.
const drainLinger = 2 * time.Second

// lingerKeepAlives waits, up to drainLinger, for clients to close their
// connections, which draining makes every HTTP/1 response ask them to do
// ("Connection: close"). Closing an idle keep-alive connection at once
// races with a request the client may be sending on it right then, which
// the client sees as a reset; a response with Connection: close ends the
// connection with no such race. That is why idle connections are not
// closed at once: under load some always are idle at that instant.
func (s *Server) lingerKeepAlives(ctx context.Context) {
	deadline := time.NewTimer(drainLinger)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.conns.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// waitIdle waits for requests still in flight (hijacked ones).
func (s *Server) waitIdle(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Close stops at once: listeners, connections and requests in flight.
func (s *Server) Close() error {
	bound, err := s.stopListening()
	errs := []error{err}
	// Connections close before request contexts are cancelled: a handler
	// that returns on cancellation would otherwise get its empty 200
	// written to a client that must instead see the connection cut.
	_ = bound
	s.served.each(func(c served) { c.closeNow() })
	s.stop() // ends hijacked connections, which are no longer tracked
	return errors.Join(errs...)
}

// Run starts the server and serves until told to stop: SIGTERM or ctx
// drains gracefully within GracePeriod (a second signal cuts the drain
// short), SIGINT stops at once. It returns when the server has stopped.
func (s *Server) Run(ctx context.Context) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := s.Start(); err != nil {
		return err
	}
	select {
	case sig := <-sigs:
		if sig == syscall.SIGINT {
			s.opts.Logger.Info("server: stopping now", slog.String("signal", sig.String()))
			return s.Close()
		}
		s.opts.Logger.Info("server: draining", slog.String("signal", sig.String()), slog.Duration("grace", s.opts.GracePeriod))
	case <-ctx.Done():
		s.opts.Logger.Info("server: draining", slog.Duration("grace", s.opts.GracePeriod))
	case err := <-s.failed:
		_ = s.Close()
		return err
	}
	return s.drain(sigs)
}

func (s *Server) drain(sigs <-chan os.Signal) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.GracePeriod)
	defer cancel()
	go func() {
		select {
		case sig := <-sigs:
			s.opts.Logger.Info("server: signal during the drain: stopping now", slog.String("signal", sig.String()))
			cancel()
		case <-ctx.Done():
		}
	}()
	return s.Shutdown(ctx)
}
