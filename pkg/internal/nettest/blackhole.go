package nettest

import (
	"errors"
	"net"
	"testing"
	"time"
)

// BlackholeAddr returns a loopback address that drops connection attempts
// for the whole test: a SYN to it is never answered, as when a pod's node
// or network is gone before its endpoint leaves the EndpointSlice. A dial
// there waits for its own timeout, unlike one to RefusedAddr.
//
// It is a listener with the shortest accept queue that is never accepted
// from, filled up: Linux drops a SYN to a listener whose accept queue is
// full (netstat's "SYNs to LISTEN sockets dropped"), and no root or
// firewall rule is needed.
func BlackholeAddr(t testing.TB) string {
	t.Helper()
	addr := loopbackPort(t, true)
	fillAcceptQueue(t, addr)
	return addr
}

// IsTimeout reports whether err is a network timeout, such as a dial to
// BlackholeAddr giving up.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fillAcceptQueue connects until a connection attempt goes unanswered;
// the connections that got in stay open until the test ends.
func fillAcceptQueue(t testing.TB, addr string) {
	t.Helper()
	const probe = 200 * time.Millisecond // a loopback handshake takes microseconds
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, probe)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			continue
		}
		if IsTimeout(err) {
			return
		}
		t.Fatalf("filling the accept queue of %s: %v", addr, err)
	}
	t.Fatalf("%s still answers after 16 connections: its accept queue does not fill", addr)
}
