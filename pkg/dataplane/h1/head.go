package h1

import (
	"errors"
	"math"
)

// Field is one header or trailer field: views into the buffer the head
// was parsed from, without the whitespace around the value.
type Field struct{ Name, Value []byte }

// Framing is how a message's body is delimited (RFC 9112 §6.3).
type Framing uint8

const (
	// NoBody: the message ends with its head (HEAD, 1xx, 204, 304, a
	// request with neither Content-Length nor Transfer-Encoding).
	NoBody Framing = iota
	// Length: Content-Length bytes follow.
	Length
	// Chunked: the chunked transfer coding, the final and only one.
	Chunked
	// UntilClose: the body ends when the connection does (responses only).
	UntilClose
)

// Head is a parsed request or response head. Its byte slices are views
// into the buffer the head was read from, valid until that buffer is read
// again; a Head is reused across messages without allocating.
type Head struct {
	// Method and Target are the request line's; empty in a response.
	Method, Target []byte
	// Status and Reason are the status line's; zero in a request.
	Status int
	Reason []byte
	// Minor is the HTTP/1 minor version: 0 or 1.
	Minor int
	// Fields are the header fields in order, names as sent.
	Fields []Field

	// Framing and ContentLength delimit the body; ContentLength is -1
	// unless a valid Content-Length was sent (for a HEAD response or a
	// 304 it may be set although Framing is NoBody).
	Framing       Framing
	ContentLength int64
	// Close: the connection ends after this message (Connection: close,
	// HTTP/1.0 without keep-alive, or a body delimited by close).
	Close bool
	// Upgrade: "upgrade" is a Connection option and an Upgrade field is present.
	Upgrade bool
	// Expect100: a request with "Expect: 100-continue" (the last Expect
	// field's value); Expect: one with any Expect field, so that a server
	// can refuse other expectations (417) without a look at the fields.
	Expect100, Expect bool
	// Host is a request's Host field value (nil if it has none).
	Host []byte

	spill []byte // a head larger than the reader's buffer is gathered here
	scan  scan
}

// scan is what the field loop learned about framing.
type scan struct {
	cls, tes, hosts   int
	clBad, teChunked  bool
	connClose, connKA bool
	connUpgrade, upg  bool
}

// Error is a message refused by the parser, with the status a server
// answers it with (400, 431, 501, 505; 502 for a response head).
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "h1: " + e.Reason }

// ErrIncomplete: the buffer holds no complete head yet.
var ErrIncomplete = errors.New("h1: incomplete head")

func bad(reason string) *Error { return &Error{Status: 400, Reason: reason} }

// Request-side errors; response-side ones are the same with status 502
// (see upstreamErr).
var (
	errTooLarge    = &Error{Status: 431, Reason: "request head too large"}
	errRespLarge   = &Error{Status: 502, Reason: "response head too large"}
	errVersion     = &Error{Status: 505, Reason: "HTTP version not supported"}
	errPRI         = bad("HTTP/2 preface method PRI in an HTTP/1 request")
	errBareCR      = bad("bare CR in head")
	errCTL         = bad("control character in head")
	errRequestLine = bad("malformed request line")
	errStatusLine  = bad("malformed status line")
	errTarget      = bad("malformed request target")
	errFieldName   = bad("malformed field name")
	errObsFold     = bad("obs-fold (a field line continued on the next line)")
	errCLAndTE     = bad("both Content-Length and Transfer-Encoding")
	errTEInHTTP10  = bad("Transfer-Encoding in an HTTP/1.0 message")
	errTENotChunk  = bad("Transfer-Encoding other than one chunked coding")
	errBadCL       = bad("malformed Content-Length")
	errDupCL       = bad("more than one Content-Length")
	errNoHost      = bad("HTTP/1.1 request without Host")
	errDupHost     = bad("more than one Host")
	errBadHost     = bad("malformed Host")
)

// upstreamErr turns a refusal of a response head into one a proxy answers
// with 502: the fault is the upstream's, not the client's.
func upstreamErr(err error) error {
	if e, ok := err.(*Error); ok && e.Status != 502 {
		return &Error{Status: 502, Reason: "upstream response: " + e.Reason}
	}
	return err
}

func (h *Head) reset() {
	spill := h.spill
	fields := h.Fields[:0]
	*h = Head{Fields: fields, spill: spill, ContentLength: -1}
}

// ParseRequest parses a request head that b begins with. It returns the
// head's length, ErrIncomplete if b holds no complete head (and no more
// than max bytes), or an *Error.
func ParseRequest(b []byte, h *Head, max int) (int, error) {
	n, err := h.parseHead(b, max, false)
	if err == nil {
		err = h.frameRequest()
	}
	return n, err
}

// ParseResponse parses a response head to a request with method. It
// returns the head's length, ErrIncomplete, or an *Error with status 502.
func ParseResponse(b []byte, h *Head, max int, method string) (int, error) {
	n, err := h.parseHead(b, max, true)
	if err == nil {
		err = h.frameResponse(method)
	}
	return n, upstreamErr(err)
}

// requestLine: method SP request-target SP HTTP-version, single spaces.
func (h *Head) requestLine(line []byte) error {
	i := tokenEnd(line, 0)
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return errRequestLine
	}
	h.Method = line[:i]
	line = line[i+1:]
	i = targetEnd(line)
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return errRequestLine
	}
	h.Target = line[:i]
	if !validTarget(h.Method, h.Target) {
		return errTarget
	}
	if string(h.Method) == "PRI" {
		// The HTTP/2 preface (or a start of it) where HTTP/1 is spoken:
		// malformed, not a version to negotiate.
		return errPRI
	}
	return h.version(line[i+1:])
}

// validTarget accepts the four forms of RFC 9112 §3.2: origin ("/..."),
// absolute ("scheme://..."), authority (CONNECT only) and asterisk.
func validTarget(method, t []byte) bool {
	switch {
	case t[0] == '/':
		return true
	case string(method) == "CONNECT":
		return validAuthority(t)
	case len(t) == 1 && t[0] == '*':
		return true
	}
	return hasScheme(t)
}

// validAuthority: host ":" port, as a CONNECT target must be; no
// percent-encoding (which a host in a CONNECT line has no use for).
func validAuthority(t []byte) bool {
	colon := -1
	for i, c := range t {
		if !hostByte[c] || c == '%' {
			return false
		}
		if c == ':' {
			colon = i
		}
	}
	if colon <= 0 || colon == len(t)-1 {
		return false
	}
	for _, c := range t[colon+1:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// hasScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) "://".
func hasScheme(t []byte) bool {
	for i, c := range t {
		switch {
		case 'a' <= lower(c) && lower(c) <= 'z':
		case i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return len(t) > i+2 && t[i+1] == '/' && t[i+2] == '/' && validURIHost(t[i+3:])
		default:
			return false
		}
	}
	return false
}

// validURIHost reports whether rest, what follows an absolute-form
// target's "scheme://", begins with a host (and port) of Host bytes up to
// the path or query. An empty host is refused (RFC 9110 §4.2.1), and so is
// userinfo, which §4.2.4 has a recipient treat as an error, and a '#'
// there, which net/http refuses too; nginx answers each with 400.
func validURIHost(rest []byte) bool {
	n := 0
	for ; n < len(rest) && rest[n] != '/' && rest[n] != '?'; n++ {
		if c := rest[n]; !hostByte[c] || c == '%' {
			return false
		}
	}
	return n > 0
}

// version accepts HTTP/1.0 and HTTP/1.1; another well-formed version is
// 505, anything else 400.
func (h *Head) version(v []byte) error {
	switch string(v) {
	case "HTTP/1.1":
		h.Minor = 1
		return nil
	case "HTTP/1.0":
		h.Minor = 0
		return nil
	}
	if len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
		return errVersion
	}
	return errRequestLine
}

// statusLine: HTTP-version SP 3DIGIT [SP reason-phrase].
func (h *Head) statusLine(line []byte) error {
	if len(line) < 12 || line[8] != ' ' {
		return errStatusLine
	}
	if err := h.version(line[:8]); err != nil {
		return errStatusLine
	}
	d := line[9:12]
	if !isDigit(d[0]) || !isDigit(d[1]) || !isDigit(d[2]) || d[0] < '1' || d[0] > '5' {
		return errStatusLine
	}
	h.Status = int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	if len(line) == 12 {
		return nil
	}
	if line[12] != ' ' {
		return errStatusLine
	}
	for _, c := range line[13:] {
		if !isValueByte(c) {
			return errCTL
		}
	}
	h.Reason = line[13:]
	return nil
}

// noteFirst is, by length, the first letter of the one name noteField
// looks for that has it (0 for none), so that the scan calls it only for
// a field that could be one of them.
var noteFirst = func() (t [len("transfer-encoding") + 1]byte) {
	for _, name := range []string{"content-length", "transfer-encoding", "connection", "host", "expect", "upgrade"} {
		t[len(name)] = name[0]
	}
	return t
}()

// noteField records what the fields that frame a message say. The
// length and the first letter pick the one name a field could be, so
// that most fields cost a comparison of lengths, or of one byte, rather
// than six of names.
func (h *Head) noteField(f Field) {
	name := f.Name
	switch len(name) {
	case len("content-length"):
		if name[0]|0x20 == 'c' && equalFoldName(name, "content-length") {
			h.scan.cls++
			n, ok := parseLength(f.Value)
			h.scan.clBad = h.scan.clBad || !ok
			h.ContentLength = n
		}
	case len("transfer-encoding"):
		if name[0]|0x20 == 't' && equalFoldName(name, "transfer-encoding") {
			h.scan.tes++
			h.scan.teChunked = equalFoldName(f.Value, "chunked")
		}
	case len("connection"):
		if name[0]|0x20 == 'c' && equalFoldName(name, "connection") {
			h.noteConnection(f.Value)
		}
	case len("host"):
		if name[0]|0x20 == 'h' && equalFoldName(name, "host") {
			h.scan.hosts++
			h.Host = f.Value
		}
	case len("expect"):
		if name[0]|0x20 == 'e' && equalFoldName(name, "expect") {
			h.Expect, h.Expect100 = true, equalFoldName(f.Value, "100-continue")
		}
	case len("upgrade"):
		if name[0]|0x20 == 'u' && equalFoldName(name, "upgrade") {
			h.scan.upg = true
		}
	}
}

// noteConnection reads the options of a Connection field; the length
// picks the one option each could be.
func (h *Head) noteConnection(v []byte) {
	switch { // most Connection fields hold one of these alone
	case equalFoldName(v, "keep-alive"):
		h.scan.connKA = true
		return
	case equalFoldName(v, "close"):
		h.scan.connClose = true
		return
	}
	for len(v) > 0 {
		var opt []byte
		opt, v = cutComma(v)
		switch len(opt) {
		case len("close"):
			h.scan.connClose = h.scan.connClose || equalFoldName(opt, "close")
		case len("keep-alive"):
			h.scan.connKA = h.scan.connKA || equalFoldName(opt, "keep-alive")
		case len("upgrade"):
			h.scan.connUpgrade = h.scan.connUpgrade || equalFoldName(opt, "upgrade")
		}
	}
}

// HasToken reports whether a comma-separated field value lists token,
// compared without case.
func HasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var opt []byte
		opt, v = cutComma(v)
		if equalFold(opt, token) {
			return true
		}
	}
	return false
}

func cutComma(v []byte) (opt, rest []byte) {
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

// frameRequest decides a request's framing (RFC 9112 §6.1, §6.3) and
// refuses what a proxy must not pass on: the smuggling vectors.
func (h *Head) frameRequest() error {
	if err := h.checkLengths(); err != nil {
		return err
	}
	switch s := &h.scan; {
	case s.hosts > 1:
		return errDupHost
	case s.hosts == 0 && h.Minor == 1:
		return errNoHost
	case !validHost(h.Host):
		return errBadHost
	}
	h.Close = h.scan.connClose || (h.Minor == 0 && !h.scan.connKA)
	h.Upgrade = h.scan.connUpgrade && h.scan.upg
	switch {
	case h.scan.tes > 0:
		h.Framing = Chunked
	case h.ContentLength > 0:
		h.Framing = Length
	default:
		h.Framing = NoBody
	}
	return nil
}

// checkLengths refuses ambiguous framing, in a request or a response.
func (h *Head) checkLengths() error {
	s := &h.scan
	switch {
	case s.tes > 0 && s.cls > 0:
		return errCLAndTE
	case s.tes > 0 && h.Minor == 0:
		return errTEInHTTP10
	case s.tes > 1 || (s.tes == 1 && !s.teChunked):
		return errTENotChunk
	case s.cls > 1:
		return errDupCL
	case s.clBad:
		return errBadCL
	}
	return nil
}

// frameResponse decides a response's framing (RFC 9112 §6.3).
func (h *Head) frameResponse(method string) error {
	if err := h.checkLengths(); err != nil {
		return err
	}
	h.Close = h.scan.connClose || (h.Minor == 0 && !h.scan.connKA)
	h.Upgrade = h.Status == 101
	switch {
	case method == "HEAD" || h.Status < 200 || h.Status == 204 || h.Status == 304:
		h.Framing = NoBody
	case method == "CONNECT" && h.Status < 300:
		h.Framing = NoBody // a tunnel follows
	case h.scan.tes > 0:
		h.Framing = Chunked
	case h.ContentLength >= 0:
		h.Framing = Length
	default:
		h.Framing, h.Close = UntilClose, true
	}
	return nil
}

// parseLength reads a Content-Length value: decimal digits only, at most
// what an int64 holds (a list such as "5, 5" is refused).
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return -1, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) || n > (math.MaxInt64-int64(c-'0'))/10 {
			return -1, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Get is the value of the first field named name (compared without case).
func (h *Head) Get(name string) []byte {
	for _, f := range h.Fields {
		if equalFold(f.Name, name) {
			return f.Value
		}
	}
	return nil
}

// Release empties the Head of its views into the buffer it was read
// from, so that a Head kept by an idle connection does not keep alive a
// buffer the connection gave back; it trims it too.
func (h *Head) Release() {
	h.Trim()
	clear(h.Fields[:cap(h.Fields)])
	h.reset()
}

// Trim drops what a Head grew for an unusually large head, so that a
// Head kept for a long-lived connection does not keep it.
func (h *Head) Trim() {
	if cap(h.spill) > 16<<10 {
		h.spill = nil
	}
	if cap(h.Fields) > 256 {
		h.Fields = nil
	}
}
