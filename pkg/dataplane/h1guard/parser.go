package h1guard

import "math"

// Violation is why a connection's requests were refused; a guarded read
// returns it once the poisoned head is delivered.
type Violation struct{ Reason string }

func (v *Violation) Error() string { return "h1guard: refused request: " + v.Reason }

// The reasons a request is refused.
var (
	errCLAndTE     = &Violation{Reason: "both Content-Length and Transfer-Encoding"}
	errObsFold     = &Violation{Reason: "obs-fold (a header line continued on the next line)"}
	errPRI         = &Violation{Reason: "HTTP/2 preface method PRI in an HTTP/1 request"}
	errTEInHTTP10  = &Violation{Reason: "Transfer-Encoding in an HTTP/1.0 request"}
	errTENotChunk  = &Violation{Reason: "Transfer-Encoding other than one chunked coding"}
	errBadCL       = &Violation{Reason: "malformed Content-Length"}
	errBadChunkLen = &Violation{Reason: "malformed chunk size"}
)

type state uint8

const (
	stHead      state = iota // request line and header fields
	stBody                   // Content-Length bytes left in remaining
	stChunkSize              // hex size of the next chunk
	stChunkExt               // rest of the chunk-size line
	stChunkData              // chunk bytes left in remaining
	stChunkEnd               // CRLF after the chunk data
	stTrailer                // trailer fields after the last chunk
)

const (
	maxName      = 32 // longer field names cannot be one we look for
	h2Preface    = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	priLine      = "PRI * HTTP/2.0" // the preface's first line
	maxChunkSize = 16               // hex digits; net/http refuses more
)

// parser follows HTTP/1 request framing byte by byte, in constant memory.
// It never stops judging: framing it cannot follow is refused, so it never
// loses track of where the next request begins.
type parser struct {
	state     state
	remaining int64
	chunkLen  int // digits of the current chunk size

	// Head state, reset at every request.
	headStart bool // no byte of this request seen yet
	lineStart bool
	lineNo    int // 0 is the request line
	reqLine   [len(priLine) + 1]byte
	lineLen   int // bytes of the request line
	version   [len("HTTP/1.0\r")]byte
	verLen    int // bytes after the request line's last space
	inName    bool
	name      [maxName]byte
	nameLen   int
	field     field // the field whose value is being read
	value     valueScan
	sawCL     bool
	teFields  int
	chunked   bool
	badCL     bool
	contentLn int64
}

type field uint8

const (
	fieldOther field = iota
	fieldCL
	fieldTE
)

// valueScan reads a CL or TE value as net/http does: leading and trailing
// spaces and tabs are dropped, any other byte counts, however many.
type valueScan struct {
	len       int  // bytes, not counting whitespace at either end
	pendingWS bool // whitespace after the last byte counted
	ok        bool // all digits (CL) or a prefix of "chunked" (TE) so far
	n         int64
}

func newParser() parser {
	var p parser
	p.resetHead()
	return p
}

func (p *parser) resetHead() {
	*p = parser{state: stHead, headStart: true, lineStart: true}
}

// feed consumes b. It returns the index in b where the refused bytes begin
// (the offending request's head, 0 if it began in an earlier call, or the
// bad byte of a body) and the violation, or -1 and nil.
func (p *parser) feed(b []byte) (int, *Violation) {
	headAt := 0
	for i := 0; i < len(b); i++ {
		if p.state == stHead && p.headStart {
			headAt = i
		}
		switch p.state {
		case stHead:
			if v := p.headByte(b[i]); v != nil {
				return headAt, v
			}
		case stBody:
			n := min(int64(len(b)-i), p.remaining)
			p.remaining -= n
			i += int(n) - 1
			if p.remaining == 0 {
				p.resetHead()
			}
		default:
			var v *Violation
			if i, v = p.chunkByte(b, i); v != nil {
				return i, v
			}
		}
	}
	return -1, nil
}

func (p *parser) headByte(c byte) *Violation {
	if p.headStart {
		if c == '\r' || c == '\n' {
			return nil // empty lines before a request are tolerated
		}
		p.headStart = false
	}
	if p.lineNo == 0 {
		return p.requestLineByte(c)
	}
	if p.lineStart {
		p.lineStart = false
		switch c {
		case ' ', '\t':
			return errObsFold
		case '\r':
			p.lineStart = true // the CR of the empty line ending the head
			return nil
		case '\n':
			return p.endHead()
		}
		p.inName, p.nameLen, p.field = true, 0, fieldOther
	}
	p.fieldByte(c)
	return nil
}

// requestLineByte keeps the start of the request line (for PRI) and what
// follows its last space (the version, as net/http splits the line).
func (p *parser) requestLineByte(c byte) *Violation {
	switch {
	case c == '\n':
		p.lineNo, p.lineStart = 1, true
		if line := trimCR(p.reqLine[:min(p.lineLen, len(p.reqLine))]); p.lineLen <= len(p.reqLine) && string(line) == priLine {
			// The whole preface never reaches the parser (see Conn); any
			// other PRI line is one net/http would serve as HTTP/1.
			return errPRI
		}
		return nil
	case c == ' ':
		p.verLen = 0
	default:
		if p.verLen < len(p.version) {
			p.version[p.verLen] = c
		}
		p.verLen++
	}
	if p.lineLen < len(p.reqLine) {
		p.reqLine[p.lineLen] = c
	}
	p.lineLen++
	return nil
}

// before11 reports whether the request line's version is below HTTP/1.1,
// where net/http ignores Transfer-Encoding.
func (p *parser) before11() bool {
	if p.verLen > len(p.version) {
		return false
	}
	v := trimCR(p.version[:p.verLen])
	if len(v) != len("HTTP/1.0") || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return false
	}
	return v[5] < '1' || v[5] == '1' && v[7] < '1'
}

func (p *parser) fieldByte(c byte) {
	switch {
	case c == '\n':
		p.endField()
		p.lineNo++
		p.lineStart = true
	case c == '\r':
	case p.inName && c == ':':
		p.inName = false
		if p.nameLen <= maxName { // a longer name is none we look for
			p.field = fieldOf(p.name[:p.nameLen])
		}
		p.value = valueScan{ok: true}
	case p.inName:
		if p.nameLen < maxName {
			p.name[p.nameLen] = lower(c)
		}
		p.nameLen++
	case p.field == fieldCL:
		p.value.add(c, clDigit)
	case p.field == fieldTE:
		p.value.add(c, chunkedByte)
	}
}

// add adds c to the value; accept says whether it may follow the first
// v.len bytes.
func (v *valueScan) add(c byte, accept func(v *valueScan, c byte) bool) {
	if c == ' ' || c == '\t' {
		v.pendingWS = v.len > 0
		return
	}
	if v.pendingWS { // whitespace inside the value
		v.ok, v.pendingWS = false, false
	}
	v.ok = v.ok && accept(v, c)
	v.len++
}

// clDigit accepts what strconv.ParseUint(v, 10, 63) does.
func clDigit(v *valueScan, c byte) bool {
	if !isDigit(c) || v.n > (math.MaxInt64-int64(c-'0'))/10 {
		return false
	}
	v.n = v.n*10 + int64(c-'0')
	return true
}

func chunkedByte(v *valueScan, c byte) bool {
	return v.len < len("chunked") && lower(c) == "chunked"[v.len]
}

func fieldOf(name []byte) field {
	switch string(name) { // no allocation: the compiler compares in place
	case "content-length":
		return fieldCL
	case "transfer-encoding":
		return fieldTE
	}
	return fieldOther
}

func (p *parser) endField() {
	if p.inName {
		return
	}
	switch v := p.value; p.field {
	case fieldCL:
		// net/http refuses differing values; equal ones are one length.
		p.badCL = p.badCL || !v.ok || v.len == 0 || (p.sawCL && v.n != p.contentLn)
		p.sawCL, p.contentLn = true, v.n
	case fieldTE:
		p.teFields++
		p.chunked = v.ok && v.len == len("chunked")
	}
}

// endHead judges the head as a whole. A proxy must not pass on what RFC
// 9112 §6.1 and §6.3 call faulty framing: CL with TE, TE in HTTP/1.0, TE
// other than a single chunked coding (net/http answers some of these 501;
// the guard refuses them all with 400 and closes, as §6.3 asks when chunked
// is not the final coding), or a length net/http cannot read.
func (p *parser) endHead() *Violation {
	switch te := p.teFields > 0; {
	case te && p.sawCL:
		return errCLAndTE
	case te && p.before11():
		return errTEInHTTP10
	case te && (p.teFields > 1 || !p.chunked):
		return errTENotChunk
	case p.badCL:
		return errBadCL
	case te:
		p.state, p.remaining, p.chunkLen = stChunkSize, 0, 0
	case p.contentLn > 0:
		p.state, p.remaining = stBody, p.contentLn
	default:
		p.resetHead()
	}
	return nil
}

// chunkByte advances the chunked-body states from b[i] and returns the
// index of the last byte consumed, or of the byte refused.
func (p *parser) chunkByte(b []byte, i int) (int, *Violation) {
	c := b[i]
	switch p.state {
	case stChunkSize:
		if !p.chunkSizeByte(c) {
			return i, errBadChunkLen
		}
	case stChunkExt:
		if c == '\n' {
			p.endChunkSize()
		}
	case stChunkData:
		n := min(int64(len(b)-i), p.remaining)
		p.remaining -= n
		if p.remaining == 0 {
			p.state = stChunkEnd
		}
		return i + int(n) - 1, nil
	case stChunkEnd:
		if c == '\n' {
			p.state, p.chunkLen = stChunkSize, 0
		}
	case stTrailer:
		p.trailerByte(c)
	}
	return i, nil
}

// chunkSizeByte reports whether c may come next in a chunk-size line. A
// size net/http refuses is refused; so is one beyond int64 (an exabyte
// chunk), where net/http would still try.
func (p *parser) chunkSizeByte(c byte) bool {
	switch d := hexDigit(c); {
	case d >= 0:
		if p.chunkLen == maxChunkSize || p.remaining > math.MaxInt64>>4 {
			return false
		}
		p.remaining = p.remaining<<4 | int64(d)
		p.chunkLen++
	case p.chunkLen > 0 && (c == ';' || c == ' ' || c == '\t' || c == '\r'):
		p.state = stChunkExt
	case p.chunkLen > 0 && c == '\n':
		p.endChunkSize()
	default:
		return false
	}
	return true
}

func (p *parser) endChunkSize() {
	if p.remaining == 0 {
		p.state, p.lineStart = stTrailer, true
		return
	}
	p.state = stChunkData
}

func (p *parser) trailerByte(c byte) {
	switch {
	case c == '\r':
	case c == '\n' && p.lineStart:
		p.resetHead()
	case c == '\n':
		p.lineStart = true
	default:
		p.lineStart = false
	}
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

var _ error = (*Violation)(nil)
