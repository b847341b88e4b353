package handoff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errors a caller can branch on with errors.Is.
var (
	// ErrNoPredecessor: nobody serves at the path; open fresh listeners.
	ErrNoPredecessor = errors.New("handoff: no predecessor")
	// ErrHandoffInProgress: another successor is taking, or has taken, the listeners.
	ErrHandoffInProgress = errors.New("handoff: another successor is taking or has taken the listeners")
	// ErrPredecessorGone: the predecessor closed the connection or stopped
	// answering in the middle of a handoff.
	ErrPredecessorGone = errors.New("handoff: predecessor went away mid-handoff")
	// ErrRefused: the predecessor answered but will not hand over (reason attached).
	ErrRefused = errors.New("handoff: predecessor refused")
	// ErrProtocol: a message was malformed or not the one expected.
	ErrProtocol = errors.New("handoff: protocol error")
)

// Go's net package has no name for the seqpacket network's listener type, so
// both sides spell it once here.
const network = "unixpacket"

// writeFrame sends one record, with fds attached when there are any.
// Deadlines are the caller's business.
func writeFrame(c *net.UnixConn, typ msgType, payload []byte, fds ...int) error {
	b, err := encodeFrame(typ, payload)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("handoff: short write of %s: %d of %d bytes", typ, n, len(b))
	}
	return nil
}

// readFrame receives one record. Descriptors are returned only with a
// listeners message; on any error every received descriptor is closed.
func readFrame(c *net.UnixConn) (frame, []int, error) {
	buf := make([]byte, maxFrame+1)
	oob := make([]byte, unix.CmsgSpace(4*maxListeners))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return frame{}, nil, err
	}
	fds, fdErr := parseRights(oob[:oobn])
	f, err := checkRecord(buf[:n], flags, len(fds))
	if err == nil {
		err = fdErr
	}
	if err != nil {
		closeFDs(fds)
		return frame{}, nil, err
	}
	return f, fds, nil
}

func checkRecord(b []byte, flags, nfds int) (frame, error) {
	switch {
	case len(b) == 0:
		// A seqpacket peer that closed reads as an empty record.
		return frame{}, io.EOF
	case flags&unix.MSG_TRUNC != 0:
		return frame{}, fmt.Errorf("%w: message longer than %d bytes", ErrProtocol, maxFrame)
	case flags&unix.MSG_CTRUNC != 0:
		return frame{}, fmt.Errorf("%w: more than %d descriptors attached", ErrProtocol, maxListeners)
	}
	f, err := decodeFrame(b)
	if err != nil {
		return frame{}, err
	}
	if nfds > 0 && f.typ != msgListeners {
		return frame{}, fmt.Errorf("%w: %d descriptors attached to a %s message", ErrProtocol, nfds, f.typ)
	}
	return f, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrProtocol, err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, fmt.Errorf("%w: SCM_RIGHTS: %v", ErrProtocol, err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// checkPeer accepts only a process of our own user, or root, on the other
// end: the descriptors exchanged are the ingress ports themselves.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("handoff: reading peer credentials: %w", credErr)
	}
	if !peerAllowed(cred.Uid, uint32(os.Getuid())) {
		return fmt.Errorf("handoff: peer pid %d runs as uid %d; only uid %d or root may hand over listeners", cred.Pid, cred.Uid, os.Getuid())
	}
	return nil
}

func peerAllowed(peerUID, ownUID uint32) bool {
	return peerUID == ownUID || peerUID == 0
}

// isGone reports errors that mean the other process closed its end.
func isGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
