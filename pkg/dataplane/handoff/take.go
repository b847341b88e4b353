package handoff

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Timeouts on the taking side when ctx sets no earlier deadline.
const (
	// DefaultTakeTimeout bounds connecting and receiving the listeners.
	DefaultTakeTimeout = 5 * time.Second
	// confirmAckTimeout bounds Confirm waiting for the offerer's ack.
	confirmAckTimeout = 10 * time.Second
)

// Taken holds the listeners received from the predecessor. They share the
// predecessor's sockets: start accepting on them, then call Confirm.
type Taken struct {
	Listeners map[string]net.Listener

	conn *net.UnixConn
	used atomic.Bool
}

// Take connects to the process offering listeners at path and receives
// them. ErrNoPredecessor means nobody is there (no file; a stale file, which
// Take removes; or no answer before the deadline): open fresh listeners.
// ErrHandoffInProgress means another successor got there first. Any other
// error means nothing was received: open fresh listeners too.
func Take(ctx context.Context, path string) (*Taken, error) {
	if err := checkPathLen(path); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTakeTimeout)
	defer cancel()
	conn, err := dialPredecessor(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := checkPeer(conn); err != nil { // the descriptors become our ports
		conn.Close()
		return nil, fmt.Errorf("handoff: not taking listeners from %s: %w", path, err)
	}
	listeners, err := receiveListeners(ctx, conn, path)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Taken{Listeners: listeners, conn: conn}, nil
}

func dialPredecessor(ctx context.Context, path string) (*net.UnixConn, error) {
	// Dial again only when the file changed under us (a process published
	// a new socket between our stat and our dial); three strikes is plenty.
	for range 3 {
		id, mode, err := statID(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNoPredecessor, path)
		}
		if err != nil {
			return nil, fmt.Errorf("handoff: %w", err)
		}
		if mode.Type() != fs.ModeSocket {
			return nil, fmt.Errorf("handoff: %s is not a socket (%s)", path, mode.Type())
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, path)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, dialError(ctx, path, err)
		}
		changed, err := removeStale(path, id)
		if err != nil {
			return nil, fmt.Errorf("handoff: removing stale socket %s: %w", path, err)
		}
		if !changed {
			return nil, fmt.Errorf("%w: removed the stale socket file %s (nobody listened on it)", ErrNoPredecessor, path)
		}
	}
	return nil, fmt.Errorf("handoff: the socket at %s kept changing while connecting", path)
}

func dialError(ctx context.Context, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s disappeared", ErrNoPredecessor, path)
	case errors.Is(err, syscall.EPROTOTYPE):
		return fmt.Errorf("handoff: %s is not a seqpacket socket; is another program using it? %w", path, err)
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: connecting to %s timed out", ErrNoPredecessor, path)
	case ctx.Err() != nil:
		return fmt.Errorf("handoff: %w", ctx.Err())
	}
	return fmt.Errorf("handoff: connect to %s: %w", path, err)
}

func receiveListeners(ctx context.Context, conn *net.UnixConn, path string) (map[string]net.Listener, error) {
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	f, fds, err := readFrame(conn)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		return nil, fmt.Errorf("handoff: %w", ctx.Err())
	case isTimeout(err): // the socket's deadline is ctx's, and may fire first
		return nil, fmt.Errorf("%w: %s accepted but sent nothing before the deadline", ErrNoPredecessor, path)
	case isGone(err):
		return nil, fmt.Errorf("%w: it closed the connection before sending the listeners (%v)", ErrPredecessorGone, err)
	case err != nil:
		return nil, fmt.Errorf("handoff: receiving listeners: %w", err)
	}
	switch f.typ {
	case msgListeners:
		names, err := decodeNames(f.payload)
		if err != nil {
			closeFDs(fds)
			return nil, err
		}
		return listenersFromFDs(names, fds)
	case msgBusy:
		return nil, fmt.Errorf("%w (%s)", ErrHandoffInProgress, f.payload)
	case msgRefused:
		return nil, fmt.Errorf("%w: %s", ErrRefused, f.payload)
	}
	return nil, fmt.Errorf("%w: expected %s, got %s", ErrProtocol, msgListeners, f.typ)
}

// Confirm tells the predecessor this process is accepting on the listeners,
// and waits for its acknowledgement; the predecessor then stops accepting
// and drains. On error the listeners are still valid and, since the caller
// already accepts on them, it should keep serving and Offer them: the
// predecessor died or gave up on us, and if it is in fact alive both
// processes share one backlog, which loses nothing.
func (t *Taken) Confirm() error {
	if !t.used.CompareAndSwap(false, true) {
		return errors.New("handoff: Confirm or Abort was already called")
	}
	defer t.conn.Close()
	t.conn.SetDeadline(time.Now().Add(confirmAckTimeout))
	if err := writeFrame(t.conn, msgConfirm, nil); err != nil {
		return fmt.Errorf("%w: sending the confirmation: %v", ErrPredecessorGone, err)
	}
	f, fds, err := readFrame(t.conn)
	closeFDs(fds)
	switch {
	case isGone(err) || isTimeout(err):
		return fmt.Errorf("%w: no acknowledgement of the confirmation: %v", ErrPredecessorGone, err)
	case err != nil:
		return fmt.Errorf("handoff: waiting for acknowledgement: %w", err)
	case f.typ != msgAck:
		return fmt.Errorf("%w: expected %s, got %s", ErrProtocol, msgAck, f.typ)
	}
	return nil
}

// Abort gives up the handoff without confirming: the predecessor keeps
// serving and waits for another successor at once, instead of after its
// confirm timeout. The listeners are left to the caller, who should close
// them if it will not serve on them.
func (t *Taken) Abort() error {
	if !t.used.CompareAndSwap(false, true) {
		return errors.New("handoff: Confirm or Abort was already called")
	}
	return t.conn.Close()
}
