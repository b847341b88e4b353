package router

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
)

// hopMarker is this process's entry in the Via header (RFC 9110 §7.6.3),
// the mark by which a request that comes back is recognised as a loop.
//
// The id is random per process ("baton-" and 8 hex digits), not per
// installation: a loop through the Service to the other replicas ends, at
// the latest, when the request reaches a process it already passed (after
// replicas+1 hops); two installations chained on purpose never share an
// id, however alike their names and flags; and a handoff successor is a
// new process, so a request the predecessor sent is proxied once more at
// most. A per-installation id would stop a loop one hop earlier but turn
// a deliberate chain of two installations with the same name into 508s.
type hopMarker struct {
	id string
	// The field lines "<received-protocol> <id>" for downstream HTTP/1.0,
	// 1.1 and 2, made once so that marking a request allocates nothing.
	// Each has capacity 1: a later Header.Add copies rather than writes
	// into the shared array.
	http10, http11, http2 []string
}

func newHopMarker() hopMarker {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	id := "baton-" + hex.EncodeToString(b[:])
	line := func(protocol string) []string { return []string{protocol + " " + id}[:1:1] }
	return hopMarker{id: id, http10: line("1.0"), http11: line("1.1"), http2: line("2")}
}

// seenIn reports whether one of the Via entries in h, the downstream
// request's fields, was added by this process.
func (m *hopMarker) seenIn(h *proxy.RequestHeader) bool {
	for v := range h.Values("Via") {
		if m.inValue(v) {
			return true
		}
	}
	return false
}

// inValue scans one Via field value entry by entry. Commas inside a
// comment do not separate entries.
func (m *hopMarker) inValue(v string) bool {
	depth, start := 0, 0
	for i := 0; i <= len(v); i++ {
		switch {
		case i == len(v) || (v[i] == ',' && depth == 0):
			if m.isOurs(v[start:i]) {
				return true
			}
			start = i + 1
		case v[i] == '(':
			depth++
		case v[i] == ')' && depth > 0:
			depth--
		}
	}
	return false
}

// isOurs reports whether the received-by of one entry, "received-protocol
// received-by [comment]", is this process's id, ignoring case.
func (m *hopMarker) isOurs(entry string) bool {
	_, rest, ok := strings.Cut(strings.TrimLeft(entry, " \t"), " ")
	if !ok {
		return false
	}
	by := strings.TrimLeft(rest, " \t")
	if i := strings.IndexAny(by, " \t"); i >= 0 {
		by = by[:i]
	}
	return strings.EqualFold(by, m.id)
}

// mark adds this process's entry to the Via of out, the request about to
// be sent upstream; in is the downstream request, whose protocol version
// is the entry's received-protocol. An existing Via gets the entry
// appended to its last line, as RFC 9110 asks.
func (m *hopMarker) mark(out http.Header, in *http.Request) {
	line := m.lineFor(in)
	prior := out["Via"]
	if len(prior) == 0 {
		out["Via"] = line
		return
	}
	// out is the proxy's own copy of the header, so its values may be
	// replaced in place.
	prior[len(prior)-1] += ", " + line[0]
}

// markFields is mark for the upstream request's fields.
func (m *hopMarker) markFields(out *proxy.Header, in *http.Request) {
	out.AppendList("Via", m.lineFor(in)[0])
}

func (m *hopMarker) lineFor(in *http.Request) []string {
	switch {
	case in.ProtoMajor == 2:
		return m.http2
	case in.ProtoMajor == 1 && in.ProtoMinor == 0:
		return m.http10
	}
	return m.http11
}
