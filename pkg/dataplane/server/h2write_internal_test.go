package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedConn records its writes; while gated, a write waits for open.
type gatedConn struct {
	net.Conn
	entered chan struct{} // a write is waiting at the gate
	open    chan struct{}
	err     error

	mu     sync.Mutex
	writes []string
}

func newGatedConn() *gatedConn {
	return &gatedConn{entered: make(chan struct{}, 1), open: make(chan struct{})}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, string(p))
	if g.err != nil {
		return 0, g.err
	}
	return len(p), nil
}

func (g *gatedConn) Close() error { return nil }

func (g *gatedConn) recorded() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.writes...)
}

func mustWrite(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
		t.Fatalf("write %q: %d, %v", s, n, err)
	}
}

// writerIdle waits for the writer goroutine to finish.
func writerIdle(t *testing.T, c *batchConn) {
	t.Helper()
	deadline := time.Now().Add(safetyWait)
	for {
		c.mu.Lock()
		writing := c.writing
		c.mu.Unlock()
		if !writing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer goroutine never finished")
		}
		time.Sleep(time.Millisecond)
	}
}

const safetyWait = 10 * time.Second

// Frames flushed while a write is under way go out together, in order, in
// the next write: a response's HEADERS and DATA need not cost two.
func TestBatchConnSendsWhatQueuedMeanwhileInOneWrite(t *testing.T) {
	g := newGatedConn()
	c := newBatchConn(g).(*batchConn)
	mustWrite(t, c, "settings")
	<-g.entered // the writer is busy with it
	mustWrite(t, c, "headers")
	mustWrite(t, c, "data")
	close(g.open)
	writerIdle(t, c)
	if got, want := g.recorded(), []string{"settings", "headersdata"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q", got, want)
	}
}

// A client that stops reading stops the server's writes once maxBatched
// bytes wait: the queue does not grow without bound.
func TestBatchConnWriteWaitsWhileQueueIsFull(t *testing.T) {
	g := newGatedConn()
	c := newBatchConn(g).(*batchConn)
	mustWrite(t, c, "first")
	<-g.entered
	full := strings.Repeat("x", maxBatched)
	mustWrite(t, c, full)
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("more")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a write past a full queue returned (%v) while nothing was sent", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	writerIdle(t, c)
	if got := g.recorded(); len(got) != 3 || got[1] != full || got[2] != "more" {
		t.Errorf("writes of %d bytes each, want first, the full queue, then the rest", lengths(got))
	}
}

func lengths(writes []string) []int {
	n := make([]int, len(writes))
	for i, w := range writes {
		n[i] = len(w)
	}
	return n
}

// A failed write ends the connection for the writes after it.
func TestBatchConnReportsWriteErrorOnNextWrite(t *testing.T) {
	g := newGatedConn()
	g.err = errors.New("connection reset")
	close(g.open)
	c := newBatchConn(g).(*batchConn)
	mustWrite(t, c, "frame") // queued; the error comes later
	writerIdle(t, c)
	if _, err := c.Write([]byte("next")); err != g.err {
		t.Errorf("write after a failed one: %v, want %v", err, g.err)
	}
}

// Close sends what is queued (a last response, the GOAWAY) before it
// closes, and later writes fail.
func TestBatchConnCloseSendsQueuedBytesFirst(t *testing.T) {
	server, client := net.Pipe()
	c := newBatchConn(server)
	read := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(client); read <- b }()
	mustWrite(t, c, "last response")
	mustWrite(t, c, " goaway")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-read; !bytes.Equal(got, []byte("last response goaway")) {
		t.Errorf("the peer read %q", got)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
}

// A peer that reads nothing holds Close up for batchCloseGrace at most.
func TestBatchConnCloseCutsPeerThatReadsNothing(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	c := newBatchConn(server)
	mustWrite(t, c, "never read")
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(batchCloseGrace + safetyWait):
		t.Fatal("Close waited on a peer that reads nothing")
	}
}

// Starting the writer goroutine allocates nothing: a batch is written by
// a goroutine of its own about every other HTTP/2 response, and a go
// statement calling a method allocates a closure for its receiver each
// time (issue 14: one allocation per two h2c requests).
func TestBatchWriterStartsWithoutAllocating(t *testing.T) {
	c := newBatchConn(discardConn{}).(*batchConn)
	p := []byte("frame")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		for c.isWriting() {
			runtime.Gosched()
		}
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per batch, want 0", allocs)
	}
}

type discardConn struct{ net.Conn }

func (c *batchConn) isWriting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing
}

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
