//go:build linux

package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// deferSeconds is how long the kernel keeps a connection whose client has
// said nothing yet before handing it over anyway: one SYN-ACK
// retransmission, about a second.
const deferSeconds = 1

// deferAccept has the kernel hand l's connections over once their first
// bytes have come (TCP_DEFER_ACCEPT), as nginx's "listen ... deferred" and
// HAProxy's "defer-accept" do. Every client Baton serves speaks first
// (HTTP, TLS, h2c, the PROXY protocol), so a connection's first read finds
// its request: with a new connection per request, a read that found
// nothing, the goroutine's park and the netpoller's wake-up were left per
// connection, about 7% of the CPU (issue 14). A silent client is handed over
// after deferSeconds and timed from then as any other; until then it costs
// the kernel a request socket, not a descriptor, a goroutine and a slot
// of MaxConnections. A listener that is not a TCP socket is left alone.
// It reports whether the kernel defers l's connections.
func deferAccept(l net.Listener) bool {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferSeconds)
	})
	return err == nil && serr == nil
}
