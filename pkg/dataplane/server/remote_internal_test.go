package server

import (
	"net"
	"testing"
)

// remoteString must say what TCPAddr.String says, which handlers saw as
// RemoteAddr under net/http: dotted quads for IPv4-mapped addresses,
// brackets and zones for IPv6.
func TestRemoteStringMatchesTCPAddr(t *testing.T) {
	for _, a := range []*net.TCPAddr{
		{IP: net.IPv4(192, 0, 2, 7), Port: 4711},
		{IP: net.IP{198, 51, 100, 1}, Port: 80},
		{IP: net.ParseIP("2001:db8::1"), Port: 65535},
		{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"},
		{IP: net.IPv6loopback, Port: 0},
		{Port: 8080},
	} {
		conn := addrConn{remote: a}
		if got, want := remoteString(conn.RemoteAddr()), a.String(); got != want {
			t.Errorf("remoteString(%#v) = %q, want %q", a, got, want)
		}
	}
	if got := remoteString(addrConn{}.RemoteAddr()); got != "" {
		t.Errorf("no address: %q, want empty", got)
	}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }
