// Package h1 is Baton's one HTTP/1.1 parser: request and response heads,
// and the framing of their bodies. The server reads requests with it and
// the upstream client reads responses with it, so the framing decision
// that refuses request smuggling is the very one that frames the body;
// there is no second parser above or below it.
//
// # Heads
//
// ReadRequest and ReadResponse read a head from a *bufio.Reader into a
// Head, which is reused across messages: Method, Target, Reason, Host and
// every Field are views into the reader's buffer (or, for a head larger
// than that buffer, into the Head's own spill buffer), valid until the
// reader is read again. Copy what must outlive the body. ParseRequest and
// ParseResponse do the same on a byte slice and report ErrIncomplete
// until it holds a whole head.
//
// A refusal is an *Error carrying the status a server answers with:
//   - 400: both Content-Length and Transfer-Encoding; Transfer-Encoding in
//     HTTP/1.0 or other than one final "chunked" (RFC 9112 §6.1, §6.3);
//     more than one or a malformed Content-Length (nginx refuses
//     duplicates too); obs-fold (§5.2); a bare CR, NUL or other control
//     character; whitespace before a field's colon (§5.1); a malformed
//     request line or target; an HTTP/1.1 request without exactly one
//     valid Host (RFC 9110 §7.2); the method PRI, which only the HTTP/2
//     preface uses (the server tells prior-knowledge HTTP/2 apart before
//     calling the parser).
//   - 431: a head (or trailer section) larger than the limit given.
//   - 505: a well-formed version other than HTTP/1.0 and HTTP/1.1.
//   - 502: any refusal of a response head (the upstream's fault).
//
// Lines may end in LF alone in a head (§2.2); empty lines before a
// request line are skipped. A head is scanned once: its first line that
// cannot be accepted is refused (for a bare CR in it, before anything
// else in it), but only once the head has ended within the limit; until
// then more of it is awaited, and past the limit it is refused as too
// large however malformed, so how a head arrives never changes the verdict. Everything net/http refuses is refused too;
// the differential fuzz tests hold the parser to that and to reading what
// both accept the same way.
//
// # Bodies
//
// Head.Framing says how the body is delimited: NoBody (HEAD responses,
// 1xx, 204, 304, 2xx to CONNECT, requests without a length), Length,
// Chunked, or UntilClose (responses only). A BodyReader, reset per
// message, reads exactly that body and leaves the reader at the next
// message. Chunked bodies are read strictly: hex sizes of at most 16
// digits without whitespace, extensions without control characters, CRLF
// (not LF alone) after every line and chunk, trailer fields under the
// same rules as header fields. The trailer is kept in the BodyReader
// (Trailer) until its next Reset. ChunkedWriter writes the chunked coding
// and a trailer; WriteField writes one field, dropping any that could
// split a message.
package h1
