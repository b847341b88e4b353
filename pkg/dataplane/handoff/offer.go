package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"time"
)

// DefaultConfirmTimeout is how long an offerer waits for a successor that
// received the listeners to confirm it accepts on them, before dropping it
// and waiting for another.
const DefaultConfirmTimeout = 30 * time.Second

// How long a single write to a successor may block.
const writeTimeout = 5 * time.Second

// OfferOption tunes Offer.
type OfferOption func(*offerConfig)

type offerConfig struct {
	confirmTimeout time.Duration
	logger         *slog.Logger
}

// WithConfirmTimeout replaces DefaultConfirmTimeout.
func WithConfirmTimeout(d time.Duration) OfferOption {
	return func(c *offerConfig) { c.confirmTimeout = d }
}

// WithLogger receives failed handoff attempts (the offerer keeps serving
// after them); without it they are discarded.
func WithLogger(l *slog.Logger) OfferOption {
	return func(c *offerConfig) { c.logger = l }
}

type offerState int

const (
	stateIdle    offerState = iota // waiting for a successor
	stateSession                   // one successor is being served
	stateTaken                     // a successor confirmed; nobody else gets them
	stateClosed
)

// Offerer serves this process's listeners to the next process at a path.
type Offerer struct {
	path      string
	ln        *net.UnixListener
	id        fileID
	names     []string
	payload   []byte
	listeners map[string]net.Listener
	onTaken   func()
	cfg       offerConfig

	mu      sync.Mutex
	state   offerState
	current *net.UnixConn // the successor being served, if any

	wg        sync.WaitGroup
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Offer serves listeners, by name, to the next process that calls Take on
// path. onTaken runs once, on its own goroutine, when a successor has taken
// them and confirmed it is accepting; the caller then stops accepting and
// drains. Exactly one successor wins. Offer replaces whatever socket is at
// path (the predecessor's, once its listeners were taken). Cancelling ctx
// closes the Offerer.
func Offer(ctx context.Context, path string, listeners map[string]net.Listener, onTaken func(), opts ...OfferOption) (*Offerer, error) {
	o, err := newOfferer(path, listeners, onTaken, opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("handoff: offer: %w", err)
	}
	if o.ln, o.id, err = publish(path); err != nil {
		return nil, err
	}
	o.wg.Add(1)
	go o.acceptLoop()
	go func() {
		select {
		case <-ctx.Done():
			o.Close()
		case <-o.done:
		}
	}()
	return o, nil
}

func newOfferer(path string, listeners map[string]net.Listener, onTaken func(), opts []OfferOption) (*Offerer, error) {
	if onTaken == nil {
		return nil, errors.New("handoff: offer needs an onTaken callback")
	}
	if err := checkPathLen(path); err != nil {
		return nil, err
	}
	names, err := sortedNames(listeners)
	if err != nil {
		return nil, err
	}
	payload, err := encodeNames(names)
	if err != nil {
		return nil, err
	}
	cfg := offerConfig{confirmTimeout: DefaultConfirmTimeout, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&cfg)
	}
	return &Offerer{
		path: path, names: names, payload: payload, listeners: maps.Clone(listeners),
		onTaken: onTaken, cfg: cfg, done: make(chan struct{}),
	}, nil
}

func (o *Offerer) acceptLoop() {
	defer o.wg.Done()
	var backoff time.Duration
	for {
		conn, err := o.ln.AcceptUnix()
		if err == nil {
			backoff = 0
			o.dispatch(conn)
			continue
		}
		select {
		case <-o.done:
			return
		default:
		}
		// Out of descriptors and the like: back off as net/http does.
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		o.cfg.logger.Error("handoff: accept failed; retrying", slog.String("socket", o.path), slog.Any("err", err), slog.Duration("backoff", backoff))
		select {
		case <-o.done:
			return
		case <-time.After(backoff):
		}
	}
}

// dispatch starts a session for the first successor and turns away anyone
// arriving while it runs or after a successor won.
func (o *Offerer) dispatch(conn *net.UnixConn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.state {
	case stateClosed:
		conn.Close()
	case stateIdle:
		o.state, o.current = stateSession, conn
		o.wg.Add(1)
		go o.runSession(conn)
	default:
		o.wg.Add(1)
		go o.turnAway(conn)
	}
}

func (o *Offerer) turnAway(conn *net.UnixConn) {
	defer o.wg.Done()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(writeTimeout))
	writeFrame(conn, msgBusy, []byte("another successor is taking or has taken the listeners"))
}

func (o *Offerer) runSession(conn *net.UnixConn) {
	defer o.wg.Done()
	err := o.handOver(conn)
	if err != nil {
		// Logged before the next successor can start, so logs stay in order.
		o.cfg.logger.Error("handoff: a successor did not take the listeners; still serving them", slog.String("socket", o.path), slog.Any("err", err))
	}
	conn.Close()
	o.mu.Lock()
	o.current = nil
	if o.state == stateSession {
		o.state = stateIdle
		if err == nil {
			o.state = stateTaken
		}
	}
	o.mu.Unlock()
	if err != nil {
		return
	}
	o.keepUnixSocketFiles()
	go o.onTaken()
}

// handOver runs one session; nil means the successor confirmed and was acked.
func (o *Offerer) handOver(conn *net.UnixConn) error {
	if err := checkPeer(conn); err != nil {
		o.refuse(conn, err)
		return err
	}
	fds, err := dupListeners(o.names, o.listeners)
	if err != nil {
		o.refuse(conn, err)
		return err
	}
	conn.SetDeadline(time.Now().Add(writeTimeout))
	err = writeFrame(conn, msgListeners, o.payload, fds...)
	closeFDs(fds) // the kernel holds its own references while in flight
	if err != nil {
		return fmt.Errorf("sending listeners: %w", err)
	}
	if err := o.awaitConfirm(conn); err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(writeTimeout))
	if err := writeFrame(conn, msgAck, nil); err != nil {
		return fmt.Errorf("acknowledging the confirmation: %w", err)
	}
	return nil
}

func (o *Offerer) awaitConfirm(conn *net.UnixConn) error {
	conn.SetDeadline(time.Now().Add(o.cfg.confirmTimeout))
	f, fds, err := readFrame(conn)
	closeFDs(fds)
	switch {
	case isTimeout(err):
		return fmt.Errorf("successor did not confirm within %s", o.cfg.confirmTimeout)
	case isGone(err):
		return fmt.Errorf("successor closed the connection before confirming: %w", err)
	case err != nil:
		return fmt.Errorf("waiting for confirmation: %w", err)
	case f.typ != msgConfirm:
		return fmt.Errorf("%w: expected %s, got %s", ErrProtocol, msgConfirm, f.typ)
	}
	return nil
}

func (o *Offerer) refuse(conn *net.UnixConn, reason error) {
	conn.SetDeadline(time.Now().Add(writeTimeout))
	msg := reason.Error()
	if len(msg) > maxPayload {
		msg = msg[:maxPayload]
	}
	writeFrame(conn, msgRefused, []byte(msg))
}

// keepUnixSocketFiles stops this process from unlinking the path of a Unix
// listener the successor now serves when it closes its copy.
func (o *Offerer) keepUnixSocketFiles() {
	for _, l := range o.listeners {
		if ul, ok := l.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
}

// Close stops offering, ends a handoff in progress (the successor sees
// ErrPredecessorGone), and removes the socket file unless a successor has
// already replaced it. The listeners themselves stay open. It may be called
// from onTaken.
func (o *Offerer) Close() error {
	o.closeOnce.Do(func() {
		o.mu.Lock()
		o.state = stateClosed
		if o.current != nil {
			o.current.Close()
		}
		o.mu.Unlock()
		close(o.done)
		err := o.ln.Close()
		o.wg.Wait()
		o.closeErr = errors.Join(err, removeIfSame(o.path, o.id))
	})
	return o.closeErr
}
