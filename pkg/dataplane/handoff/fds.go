package handoff

import (
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// sortedNames validates the listeners an offerer will hand out and fixes the
// order in which their names and descriptors travel.
func sortedNames(listeners map[string]net.Listener) ([]string, error) {
	if len(listeners) == 0 || len(listeners) > maxListeners {
		return nil, fmt.Errorf("handoff: %d listeners, want 1 to %d", len(listeners), maxListeners)
	}
	names := make([]string, 0, len(listeners))
	for name, l := range listeners {
		if err := validName(name); err != nil {
			return nil, err
		}
		if _, ok := l.(syscall.Conn); !ok {
			return nil, fmt.Errorf("handoff: listener %q is a %T, which exposes no file descriptor; pass the raw *net.TCPListener (wrap TLS after)", name, l)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// dupListeners duplicates each listener's descriptor for sending. It goes
// through SyscallConn rather than (*net.TCPListener).File, because File's Fd
// would switch the shared socket to blocking mode in this process too.
func dupListeners(names []string, listeners map[string]net.Listener) ([]int, error) {
	fds := make([]int, 0, len(names))
	for _, name := range names {
		fd, err := dupListener(listeners[name].(syscall.Conn))
		if err != nil {
			closeFDs(fds)
			return nil, fmt.Errorf("handoff: listener %q: %w", name, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func dupListener(l syscall.Conn) (int, error) {
	raw, err := l.SyscallConn()
	if err != nil {
		return -1, err
	}
	dup, dupErr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) {
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err // typically: the listener is already closed
	}
	return dup, dupErr
}

// listenersFromFDs takes ownership of fds: on return each one is either
// inside a listener or closed.
func listenersFromFDs(names []string, fds []int) (map[string]net.Listener, error) {
	if len(names) != len(fds) {
		closeFDs(fds)
		return nil, fmt.Errorf("%w: %d listener names but %d descriptors", ErrProtocol, len(names), len(fds))
	}
	out := make(map[string]net.Listener, len(names))
	for i, name := range names {
		l, err := listenerFromFD(name, fds[i])
		if err != nil {
			closeFDs(fds[i+1:])
			for _, done := range out {
				done.Close()
			}
			return nil, err
		}
		out[name] = l
	}
	return out, nil
}

func listenerFromFD(name string, fd int) (net.Listener, error) {
	unix.CloseOnExec(fd)
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil || listening != 1 {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: descriptor for %q is not a listening socket (%v)", ErrProtocol, name, err)
	}
	// The descriptor arrives non-blocking (that flag lives on the shared
	// socket), so NewFile leaves the mode alone and FileListener's dup is safe.
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("handoff: listener %q from descriptor: %w", name, err)
	}
	return l, nil
}
