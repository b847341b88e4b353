//go:build linux

package server

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// poller is a Server's epoll instance for parked connections. A socket
// may be in it and in the Go runtime's at once: the runtime's wakes no
// one, as no goroutine reads a parked socket. Registrations are one-shot
// and level-triggered: a socket already readable when parked is reported
// at once, and once reported it stays quiet until parked again. The epoll
// descriptor is itself watched by the runtime's netpoller, so waiting for
// events holds no thread, and closing it ends the wait.
type poller struct {
	once   sync.Once
	file   *os.File // the epoll instance; nil if it could not be made
	fd     int      // file's descriptor, used under mu until stopped
	rc     syscall.RawConn
	closed bool
	mu     sync.Mutex
	parked map[int32]*parkedConn // by file descriptor
	gen    uint32
}

// poller starts the Server's poller on first use; nil if epoll fails.
func (s *Server) poller() *poller {
	pl := &s.parker
	pl.once.Do(func() {
		if pl.open() == nil {
			go pl.run()
		}
	})
	if pl.file == nil {
		return nil
	}
	return pl
}

// open makes the epoll instance, unless stop came first.
func (pl *poller) open() error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return os.ErrClosed
	}
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	pl.file, pl.fd, pl.rc, pl.parked = f, fd, rc, make(map[int32]*parkedConn)
	return nil
}

// add registers p's socket, and starts its idle timer, under the lock
// wakeAll takes: no event can wake p before both are in place.
func (pl *poller) add(p *parkedConn, raw syscall.RawConn) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return false
	}
	pl.gen++
	p.gen = pl.gen
	var err error
	cerr := raw.Control(func(fd uintptr) {
		p.fd = int32(fd)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: p.fd, Pad: int32(p.gen)}
		// A socket parked before is in the set still (one-shot leaves it
		// there, disabled); one that never parked is not: guessing right
		// spares a failing call on every connection's first park.
		first, again := unix.EPOLL_CTL_ADD, unix.EPOLL_CTL_MOD
		if p.parkedBefore {
			first, again = again, first
		}
		err = unix.EpollCtl(pl.fd, first, int(fd), &ev)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EEXIST) {
			err = unix.EpollCtl(pl.fd, again, int(fd), &ev)
		}
	})
	if cerr != nil || err != nil {
		return false
	}
	pl.parked[p.fd] = p
	// The timer is there before p is idle, as whoever closes p stops it
	// (the drain may, at once); it is armed after, as expire must find p
	// idle to close it.
	p.timer = time.AfterFunc(time.Duration(1<<63-1), p.expire)
	p.state.Store(parkIdle)
	p.timer.Reset(time.Until(p.deadline))
	return true
}

// remove forgets p, which is being closed: closing its socket takes it
// out of the epoll set, and an event already on its way finds no p.
func (pl *poller) remove(p *parkedConn) {
	pl.mu.Lock()
	if pl.parked[p.fd] == p {
		delete(pl.parked, p.fd)
	}
	pl.mu.Unlock()
}

// run waits for events until the poller is closed.
func (pl *poller) run() {
	events := make([]unix.EpollEvent, 128)
	for {
		var n int
		var werr error
		err := pl.rc.Read(func(fd uintptr) bool {
			n, werr = unix.EpollWait(int(fd), events, 0)
			return n > 0 || werr != nil && werr != unix.EINTR
		})
		if err != nil || werr != nil {
			return // closed; an error here would repeat forever
		}
		pl.wakeAll(events[:n])
	}
}

// wakeAll hands every parked connection reported to a connection worker,
// whose stack the request will not have to grow.
func (pl *poller) wakeAll(events []unix.EpollEvent) {
	for _, ev := range events {
		pl.mu.Lock()
		p := pl.parked[ev.Fd]
		if p != nil && p.gen == uint32(ev.Pad) {
			delete(pl.parked, ev.Fd)
		} else {
			p = nil // the socket was closed and its number reused
		}
		pl.mu.Unlock()
		if p != nil && p.state.CompareAndSwap(parkIdle, parkWoken) {
			p.srv.connWorkers.start(connJob{woken: p})
		}
	}
}

// stop closes the epoll instance, which ends run.
func (pl *poller) stop() {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.file != nil && !pl.closed {
		pl.closed = true
		pl.file.Close()
	}
}
