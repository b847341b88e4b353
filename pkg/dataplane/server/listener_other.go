//go:build !linux

package server

import "net"

// deferAccept is Linux's TCP_DEFER_ACCEPT (see listener_linux.go); other
// systems accept as before.
func deferAccept(net.Listener) bool { return false }
