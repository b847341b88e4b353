package server

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// batchConn is an HTTP/2 connection as x/net/http2 writes to it. Its serve
// loop flushes whenever it has nothing else queued, and a handler sends a
// response's HEADERS and DATA one after the other, each awaited: without
// help, every frame is a write(2) of its own (and a TLS record), which
// costs more than the rest of the request. batchConn takes the bytes of a
// flush and returns; one writer goroutine sends everything that piled up
// in the meantime in one write, as an event loop would at the end of its
// turn. At most maxBatched bytes wait, so a client that stops reading
// still stops the server's writes.
type batchConn struct {
	net.Conn
	mu      sync.Mutex
	sent    sync.Cond // a batch went out, or the writer stopped
	queued  *[]byte   // nil while nothing waits
	writing bool      // a writer goroutine runs
	err     error     // the first write error, or net.ErrClosed
	// writer is writeQueued, bound once: a go statement calling the
	// method would allocate a closure for c each time (about every
	// other response).
	writer func()
}

const (
	// maxBatched bounds the bytes accepted but not yet written.
	maxBatched = 64 << 10
	// batchCloseGrace bounds how long Close waits for queued bytes (a
	// last response, the GOAWAY) to go out before it cuts the connection.
	batchCloseGrace = time.Second
)

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// newBatchConn wraps c; a TLS connection keeps its ConnectionState, which
// x/net/http2 checks.
func newBatchConn(c net.Conn) net.Conn {
	b := &batchConn{Conn: c}
	b.sent.L = &b.mu
	b.writer = b.writeQueued
	if tc, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return &tlsBatchConn{batchConn: b, tc: tc}
	}
	return b
}

type tlsBatchConn struct {
	*batchConn
	tc interface{ ConnectionState() tls.ConnectionState }
}

func (c *tlsBatchConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// Write queues p for the writer goroutine, waiting while the queue is full.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && c.queued != nil && len(*c.queued)+len(p) > maxBatched {
		c.sent.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.queued == nil {
		c.queued = batchBufs.Get().(*[]byte)
	}
	*c.queued = append(*c.queued, p...)
	if !c.writing {
		c.writing = true
		go c.writer()
	}
	return len(p), nil
}

// writeQueued sends what is queued, batch after batch, until nothing is.
func (c *batchConn) writeQueued() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.queued != nil && c.err == nil {
		b := c.queued
		c.queued = nil
		c.mu.Unlock()
		_, err := c.Conn.Write(*b)
		*b = (*b)[:0]
		if cap(*b) <= 64<<10 {
			batchBufs.Put(b)
		}
		c.mu.Lock()
		if err != nil {
			c.err = err
		}
		c.sent.Broadcast()
	}
	c.writing = false
	c.sent.Broadcast()
}

// Close sends what is queued, within batchCloseGrace, then closes.
func (c *batchConn) Close() error {
	c.mu.Lock()
	if c.writing {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(batchCloseGrace))
	}
	for c.writing {
		c.sent.Wait()
	}
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	return c.Conn.Close()
}
