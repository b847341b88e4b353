package proxy

import (
	"net"

	"github.com/baton-dev/baton/pkg/internal/sendread"
)

// sendThenRead is what an upstream connection's reader reads: the socket,
// with a request that may wait to be written until its response is read,
// so that both happen in one turn of the poller (pkg/internal/sendread):
// after a request went out, its answer is not there yet, and a plain
// read paid a read(2) that found nothing (EAGAIN) before it waited.
type sendThenRead struct {
	conn    net.Conn
	sock    sendread.Socket // its Raw is nil when conn is not a plain socket: requests go out at once
	pending []byte          // the request to send before the next read
	unsent  bool            // the last send failed with no byte of it sent
}

func (s *sendThenRead) init(c net.Conn) {
	s.conn = c
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			s.sock.Raw = raw
		}
	}
}

// deferSend keeps out to be written by the next Read, and reports false
// when it cannot: the caller writes it. out must stay untouched until then.
func (s *sendThenRead) deferSend(out []byte) bool {
	if s.sock.Raw == nil {
		return false
	}
	s.pending, s.unsent = out, false
	return true
}

func (s *sendThenRead) Read(p []byte) (int, error) {
	if s.pending == nil {
		return s.conn.Read(p)
	}
	out := s.pending
	s.pending = nil
	n, rest, err := s.sock.SendThenRead(out, p)
	if rest != nil {
		return s.finishSlowly(out, rest, p)
	}
	return n, err
}

// finishSlowly sends what the send left of out, waiting as any write
// does (and telling its failure), then reads.
func (s *sendThenRead) finishSlowly(out, rest, p []byte) (int, error) {
	if n, err := s.conn.Write(rest); err != nil {
		s.unsent = n == 0 && len(rest) == len(out)
		return 0, err
	}
	return s.conn.Read(p)
}
