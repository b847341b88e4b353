package server

import (
	"context"
	"net"
	"testing"
	"time"
)

// tcpPair is a loopback TCP connection's two ends.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A handler is stamped busy by the first check that sees it, not by a
// clock read of its own, and its client is polled goneCheckInterval after
// that stamp: not sooner, and no later once that much has passed.
func TestCheckGoneStampsThenPollsAfterTheInterval(t *testing.T) {
	server, client := tcpPair(t)
	c := &h1conn{conn: server, base: connValues{Context: context.Background()}}
	c.ctx.base = &c.base
	ctx := &c.ctx
	client.Close() // the client is gone before the handler is first seen
	c.rawConn()
	for deadline := time.Now().Add(5 * time.Second); !c.peerGone(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client's close never reached the server's socket")
		}
	}
	c.busy.Store(busyUnseen)
	const seen = int64(time.Hour)
	c.checkGone(seen)
	if got := c.busy.Load(); got != seen || ctx.Err() != nil {
		t.Fatalf("first check: busy %d, context %v; want it stamped %d and not polled", got, ctx.Err(), seen)
	}
	c.checkGone(seen + int64(goneCheckInterval) - 1)
	if ctx.Err() != nil {
		t.Fatal("polled before goneCheckInterval had passed since the stamp")
	}
	c.checkGone(seen + int64(goneCheckInterval))
	if ctx.Err() == nil {
		t.Fatal("a client gone was not found goneCheckInterval after the stamp")
	}
}
