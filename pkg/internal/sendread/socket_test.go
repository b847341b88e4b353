package sendread

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func socketOf(t *testing.T, c *net.TCPConn) *Socket {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return &Socket{Raw: raw}
}

// The message goes out, and the answer that comes after it is read.
func TestSendThenReadSendsThenReads(t *testing.T) {
	c, peer := tcpPair(t)
	go func() {
		b := make([]byte, 4)
		if _, err := io.ReadFull(peer, b); err == nil && string(b) == "ping" {
			peer.Write([]byte("pong"))
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	p := make([]byte, 16)
	n, rest, err := socketOf(t, c).SendThenRead([]byte("ping"), p)
	if err != nil || rest != nil || string(p[:n]) != "pong" {
		t.Fatalf("got %q, rest %q, %v; want pong", p[:n], rest, err)
	}
}

// One read(2) per exchange: the wait comes before the read. The peer
// reads with blocking read(2) calls on its own thread, one per message,
// and answers 2 ms later, with a sleep that is no Go timer (a timer would
// wake the poller through a read of its own), so the answer is never in
// before the socket is looked at. The count is the process's
// (/proc/self/io syscr); other tests' leftovers only add, so the least
// of a few batches counts.
func TestSendThenReadReadsOnce(t *testing.T) {
	c, peer := tcpPair(t)
	f, err := peer.File() // blocking
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	go echoBlocking(int(f.Fd()))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	s := socketOf(t, c)
	p := make([]byte, 16)
	const n, batches = 40, 4
	least := 1 << 30
	for range batches {
		before := readCalls(t)
		for range n {
			if m, rest, err := s.SendThenRead([]byte("ping"), p); err != nil || rest != nil || string(p[:m]) != "ping" {
				t.Fatalf("got %q, rest %q, %v", p[:m], rest, err)
			}
		}
		least = min(least, readCalls(t)-before)
	}
	if per := float64(least) / n; per > 2.5 {
		t.Errorf("%.2f read(2) calls per exchange, want 2 (the peer's and one)", per)
	}
}

func echoBlocking(fd int) {
	b := make([]byte, 64)
	for {
		n, err := syscall.Read(fd, b)
		if n <= 0 || err != nil {
			return
		}
		ts := syscall.NsecToTimespec(int64(2 * time.Millisecond))
		_ = syscall.Nanosleep(&ts, nil)
		if _, err := syscall.Write(fd, b[:n]); err != nil {
			return
		}
	}
}

// What a full send buffer does not take is left to the caller, in
// order: rest is the end of the message.
func TestSendThenReadLeavesWhatItCannotSend(t *testing.T) {
	c, _ := tcpPair(t) // the peer reads nothing
	if err := c.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	out := bytes.Repeat([]byte("x"), 8<<20)
	_, rest, err := socketOf(t, c).SendThenRead(out, make([]byte, 16))
	if err != nil || len(rest) == 0 || len(rest) >= len(out) || &rest[len(rest)-1] != &out[len(out)-1] {
		t.Fatalf("rest of %d bytes of %d, %v: want the end of the message", len(rest), len(out), err)
	}
}

// Sent runs once the message went; its error ends the call without a
// wait. A read deadline already passed leaves the whole message unsent.
func TestSendThenReadSentAndDeadline(t *testing.T) {
	c, peer := tcpPair(t)
	s := socketOf(t, c)
	stop := errors.New("stop")
	s.Sent = func() error { return stop }
	if _, rest, err := s.SendThenRead([]byte("one"), make([]byte, 16)); err != stop || rest != nil {
		t.Fatalf("rest %q, %v; want Sent's error", rest, err)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b := make([]byte, 3); func() error { _, err := io.ReadFull(peer, b); return err }() != nil || string(b) != "one" {
		t.Fatalf("the peer did not get the message: %q", b)
	}
	s.Sent = nil
	c.SetReadDeadline(time.Now().Add(-time.Second))
	out := []byte("two")
	if _, rest, err := s.SendThenRead(out, make([]byte, 16)); err != nil || string(rest) != "two" {
		t.Fatalf("rest %q, %v; want all of it left unsent", rest, err)
	}
}

// readCalls is the process's count of read(2) calls so far.
func readCalls(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io:", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no syscr in /proc/self/io")
	return 0
}
