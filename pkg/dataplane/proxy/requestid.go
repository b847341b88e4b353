package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"unsafe"
)

// hdrRequestID carries the request id upstream, as ingress-nginx does.
// It is not added to responses (neither ingress-nginx nor Envoy does so
// by default): a backend that wants clients to see it can echo it.
const hdrRequestID = "X-Request-Id"

// maxRequestIDLen bounds a client's id that is kept; ingress-nginx keeps
// any, but a log field should not grow with what a client sends.
const maxRequestIDLen = 128

// requestIDs makes ids unique without a random read per request: 16 hex
// digits drawn at random once per process, then 16 of a counter.
type requestIDs struct {
	prefix [16]byte
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // never fails on Linux (getrandom)
	g := &requestIDs{}
	hex.Encode(g.prefix[:], seed[:])
	return g
}

func (g *requestIDs) next() string {
	var id [32]byte
	g.fill(&id)
	return string(id[:])
}

// fill writes the next id into id.
func (g *requestIDs) fill(id *[32]byte) {
	copy(id[:16], g.prefix[:])
	n := g.n.Add(1)
	for i := len(id) - 1; i >= 16; i-- {
		id[i] = hexDigit[n&0xf]
		n >>= 4
	}
}

const hexDigit = "0123456789abcdef"

// validRequestID accepts 1 to 128 visible ASCII characters: anything else
// (spaces, control bytes, a megabyte) would make the id useless to grep
// for, or let a client forge log structure.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// resolveRequestID keeps the client's X-Request-Id when it is one valid
// value, else makes one that replaces it upstream.
func (s *Session) resolveRequestID(ids *requestIDs) {
	v, n := s.RequestHeader().onlyValue(hdrRequestID)
	if n == 1 && validRequestID(v) {
		s.RequestID = v
		return
	}
	s.idReplaced = n > 0
	// The bytes are written once, here, and never again: an HTTP/2
	// transport's HPACK table, a mirror, a map may keep the string for
	// longer than the request. They live in the Session, allocated with
	// it, or come from the arena of an exchange its connection reuses.
	buf := &s.requestIDBytes
	if s.x != nil && s.x.local {
		buf = s.x.ids.take()
	}
	ids.fill(buf)
	s.RequestID = unsafe.String(&buf[0], len(buf))
	s.generatedID = s.RequestID
}

// idArena hands out the bytes of generated ids from chunks whose bytes
// are never written again once handed out: an id costs an allocation
// per idsPerChunk ids rather than one each.
type idArena struct{ free []byte }

const idsPerChunk = 32

func (a *idArena) take() *[32]byte {
	if len(a.free) < 32 {
		a.free = make([]byte, 32*idsPerChunk)
	}
	id := (*[32]byte)(a.free[:32])
	a.free = a.free[32:]
	return id
}
