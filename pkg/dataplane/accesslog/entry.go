package accesslog

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Entry is what one line says about a request. Zero values are written as
// "" or 0, so every line has every field and the same types.
type Entry struct {
	Time           time.Time // when the request arrived
	RequestID      string
	Client         netip.Addr // after the trusted-proxy rules
	Method         string
	Host           string
	Path           string // as routed: dot segments and duplicate slashes cleaned
	Protocol       string // HTTP/1.1, HTTP/2.0
	Status         int    // sent downstream; 499 when the client went away first
	BytesReceived  int64  // request body bytes read
	BytesSent      int64  // response body bytes written
	Duration       time.Duration
	Source         string // namespace/name of the routing Ingress or route
	Upstream       string // the snapshot's upstream name
	UpstreamAddr   string // of the last attempt
	UpstreamStatus int    // 0 when no upstream answered
	Attempts       int
}

// Format is the shape of a line.
type Format uint8

const (
	JSON Format = iota // one JSON object per line
	Text               // key=value pairs (logfmt), values quoted when needed
)

// ParseFormat reads "json" or "text".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return JSON, nil
	case "text":
		return Text, nil
	}
	return 0, fmt.Errorf("access log format %q: want json or text", s)
}

// AppendLine appends e as one line, newline included, in format f.
func (f Format) AppendLine(b []byte, e *Entry) []byte {
	w := lineWriter{b: b, f: f}
	w.begin()
	w.plainStart("time")
	w.b = appendTime(w.b, e.Time)
	w.plainEnd()
	w.str("request_id", e.RequestID)
	w.plainStart("client")
	if e.Client.IsValid() {
		w.b = e.Client.AppendTo(w.b)
	}
	w.plainEnd()
	w.str("method", e.Method)
	w.str("host", e.Host)
	w.str("path", e.Path)
	w.str("protocol", e.Protocol)
	w.int("status", int64(e.Status))
	w.int("bytes_received", e.BytesReceived)
	w.int("bytes_sent", e.BytesSent)
	w.key("duration")
	w.b = strconv.AppendFloat(w.b, e.Duration.Seconds(), 'f', 6, 64)
	w.str("source", e.Source)
	w.str("upstream", e.Upstream)
	w.str("upstream_addr", e.UpstreamAddr)
	w.int("upstream_status", int64(e.UpstreamStatus))
	w.int("attempts", int64(e.Attempts))
	return w.end()
}

// lineWriter appends fields; JSON and text differ only in punctuation and
// in when a value is quoted.
type lineWriter struct {
	b      []byte
	f      Format
	fields int
	mark   int // where the value plainStart began starts
}

func (w *lineWriter) begin() {
	if w.f == JSON {
		w.b = append(w.b, '{')
	}
}

func (w *lineWriter) end() []byte {
	if w.f == JSON {
		w.b = append(w.b, '}')
	}
	return append(w.b, '\n')
}

// key starts a field; keys are constant ASCII, never escaped.
func (w *lineWriter) key(k string) {
	if w.fields > 0 {
		w.b = append(w.b, sep[w.f])
	}
	w.fields++
	if w.f == JSON {
		w.b = append(append(append(w.b, '"'), k...), '"', ':')
		return
	}
	w.b = append(append(w.b, k...), '=')
}

var sep = [...]byte{JSON: ',', Text: ' '}

func (w *lineWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *lineWriter) str(k, v string) {
	w.key(k)
	if w.f == Text && !needsQuotes(v) {
		w.b = append(w.b, v...)
		return
	}
	w.b = appendQuoted(w.b, v)
}

// plainStart and plainEnd bracket a value appended in place that needs
// no escaping (a time, an address): JSON quotes it, text only when empty.
func (w *lineWriter) plainStart(k string) {
	w.key(k)
	if w.f == JSON {
		w.b = append(w.b, '"')
	}
	w.mark = len(w.b)
}

func (w *lineWriter) plainEnd() {
	switch {
	case w.f == JSON:
		w.b = append(w.b, '"')
	case len(w.b) == w.mark:
		w.b = append(w.b, '"', '"')
	}
}

// needsQuotes tells whether a text value would be ambiguous bare: empty,
// or holding a space, quote, '=', backslash, control or non-ASCII byte.
func needsQuotes(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. Control bytes are escaped and
// invalid UTF-8 becomes U+FFFD, so a client cannot break the line or the
// JSON with what it puts in a path or Host.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		safe := i
		for safe < len(s) && isPlain(s[safe]) {
			safe++
		}
		b = append(b, s[i:safe]...) // the common case: all of it
		if i = safe; i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = appendASCII(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// isPlain is a byte copied into a JSON string as it is.
func isPlain(c byte) bool { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' }

func appendASCII(b []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(b, '\\', c)
	case c == '\n':
		return append(b, '\\', 'n')
	case c == '\r':
		return append(b, '\\', 'r')
	case c == '\t':
		return append(b, '\\', 't')
	case c < 0x20 || c == 0x7f:
		return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, c)
}

// appendTime writes t in UTC as RFC 3339 with milliseconds,
// 2006-01-02T15:04:05.000Z: the same as t.UTC().AppendFormat with that
// layout, in a third of the time, which matters once per request.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	b = appendDigits(append(b, '.'), t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits writes v (non-negative) zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
