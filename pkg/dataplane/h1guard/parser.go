package h1guard

// Violation is why a connection's requests were refused; a guarded read
// returns it once the poisoned head is delivered.
type Violation struct{ Reason string }

func (v *Violation) Error() string { return "h1guard: refused request: " + v.Reason }

type state uint8

const (
	stHead        state = iota // request line and header fields
	stBody                     // Content-Length bytes left in remaining
	stChunkSize                // hex size of the next chunk
	stChunkExt                 // rest of the chunk-size line
	stChunkData                // chunk bytes left in remaining
	stChunkEnd                 // CRLF after the chunk data
	stTrailer                  // trailer fields after the last chunk
	stPassthrough              // not (or no longer) ours to judge
)

const (
	maxName     = 32 // longer field names cannot be one we look for
	maxValue    = 32 // longer values of CL/TE are not ones net/http accepts
	h2Preface   = "PRI * HTTP/2.0"
	maxCLDigits = 18 // stays below int64 overflow
)

// parser follows HTTP/1 request framing byte by byte, in constant memory.
type parser struct {
	state     state
	remaining int64
	chunkLen  int // digits of the current chunk size

	// Head state, reset at every request.
	headStart  bool // no byte of this request seen yet
	lineStart  bool
	lineNo     int // 0 is the request line
	inName     bool
	name       [maxName]byte
	nameLen    int
	value      [maxValue]byte
	valueLen   int
	field      field // the field whose value is being read
	sawCL      bool
	sawTE      bool
	chunked    bool
	contentLen int64
	badCL      bool
	lineBytes  int // bytes of the request line, compared with h2Preface
	prefaceOK  bool
}

type field uint8

const (
	fieldOther field = iota
	fieldCL
	fieldTE
)

func newParser() parser {
	var p parser
	p.resetHead()
	return p
}

func (p *parser) resetHead() {
	*p = parser{state: stHead, headStart: true, lineStart: true, prefaceOK: true}
}

// feed consumes b. It returns the index in b where the offending request's
// head began (0 if it began in an earlier call) and the violation, or -1
// and nil.
func (p *parser) feed(b []byte) (int, *Violation) {
	headAt := 0
	for i := 0; i < len(b); i++ {
		if p.state == stHead && p.headStart {
			headAt = i
		}
		switch p.state {
		case stPassthrough:
			return -1, nil
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
			i = p.chunkByte(b, i)
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
			return &Violation{Reason: "obs-fold (a header line continued on the next line)"}
		case '\r':
			p.lineStart = true // the CR of the empty line ending the head
			return nil
		case '\n':
			return p.endHead()
		}
		p.inName, p.nameLen, p.valueLen, p.field = true, 0, 0, fieldOther
	}
	return p.fieldByte(c)
}

func (p *parser) requestLineByte(c byte) *Violation {
	if c == '\n' {
		p.lineNo, p.lineStart = 1, true
		return nil
	}
	if p.prefaceOK && p.lineBytes < len(h2Preface) {
		p.prefaceOK = h2Preface[p.lineBytes] == c
		p.lineBytes++
		if p.prefaceOK && p.lineBytes == len(h2Preface) {
			p.state = stPassthrough // prior-knowledge HTTP/2 (h2c)
		}
	}
	return nil
}

func (p *parser) fieldByte(c byte) *Violation {
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
	case p.inName:
		if p.nameLen < maxName {
			p.name[p.nameLen] = lower(c)
		}
		p.nameLen++
	case p.field != fieldOther:
		if (c == ' ' || c == '\t') && p.valueLen == 0 {
			return nil // leading whitespace
		}
		if p.valueLen < maxValue {
			p.value[p.valueLen] = lower(c)
		}
		p.valueLen++
	}
	return nil
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
	if p.inName || p.field == fieldOther {
		return
	}
	v := trimRight(p.value[:min(p.valueLen, maxValue)])
	switch p.field {
	case fieldCL:
		p.sawCL = true
		n, ok := parseLength(v, p.valueLen)
		p.contentLen, p.badCL = n, p.badCL || !ok
	case fieldTE:
		p.sawTE = true
		p.chunked = p.valueLen <= maxValue && string(v) == "chunked"
	}
}

func (p *parser) endHead() *Violation {
	if p.sawCL && p.sawTE {
		return &Violation{Reason: "both Content-Length and Transfer-Encoding"}
	}
	switch {
	case p.sawTE && p.chunked:
		p.state = stChunkSize
	case p.sawTE || p.badCL:
		p.state = stPassthrough // net/http refuses this on its own
	case p.contentLen > 0:
		p.state, p.remaining = stBody, p.contentLen
	default:
		p.resetHead()
	}
	return nil
}

func parseLength(v []byte, fullLen int) (int64, bool) {
	if len(v) == 0 || fullLen > maxValue || len(v) > maxCLDigits {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// chunkByte advances the chunked-body states from b[i] and returns the
// index of the last byte consumed.
func (p *parser) chunkByte(b []byte, i int) int {
	c := b[i]
	switch p.state {
	case stChunkSize:
		p.chunkSizeByte(c)
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
		return i + int(n) - 1
	case stChunkEnd:
		if c == '\n' {
			p.state, p.chunkLen = stChunkSize, 0
		}
	case stTrailer:
		p.trailerByte(c)
	}
	return i
}

func (p *parser) chunkSizeByte(c byte) {
	switch d := hexDigit(c); {
	case d >= 0 && p.chunkLen < 15:
		p.remaining = p.remaining<<4 | int64(d)
		p.chunkLen++
	case p.chunkLen > 0 && (c == ';' || c == ' ' || c == '\t' || c == '\r'):
		p.state = stChunkExt
	case p.chunkLen > 0 && c == '\n':
		p.endChunkSize()
	default:
		p.state = stPassthrough // net/http refuses a bad chunk size
	}
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

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func trimRight(v []byte) []byte {
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

var _ error = (*Violation)(nil)
