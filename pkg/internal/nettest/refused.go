package nettest

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusedAddr returns a loopback address that refuses connections for the
// whole test. The port stays bound without listening: a port merely closed
// again can be handed to the next listener, once the proxy's own, which then
// proxied to itself until the client gave up.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	return loopbackPort(t, false)
}

// loopbackPort binds a loopback port for the whole test, listening with
// the shortest accept queue when listen is set, and returns its address.
func loopbackPort(t testing.TB, listen bool) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if listen {
		if err := syscall.Listen(fd, 0); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
