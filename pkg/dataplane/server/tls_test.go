package server_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/dataplane/server"
)

// A large response over TLS goes out in full 16 KiB records, as nginx's
// default ssl_buffer_size does, not in the small records crypto/tls
// starts every connection with (dynamic record sizing): each record is a
// write(2) of its own, so 64 KiB took about a dozen system calls.
func TestTLSLargeResponseUsesFullRecords(t *testing.T) {
	const size = 64 << 10
	cert, pool := newCert(t, "ingress.test")
	big := strings.Repeat("x", size)
	svc := server.Service{Name: "svc", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "65536")
		io.WriteString(w, big)
	}), Listeners: []server.Listener{{Name: "https", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}}
	s := start(t, server.Options{}, svc)

	raw, err := net.Dial("tcp", s.Addr("https").String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rc := &recordCounter{Conn: raw}
	// TLS 1.2: its handshake messages, session tickets included, are not
	// application-data records as TLS 1.3's are, so those counted are the
	// response's.
	tc := tls.Client(rc, &tls.Config{RootCAs: pool, ServerName: "ingress.test", NextProtos: []string{"http/1.1"}, MaxVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: ingress.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := rc.appData // records read ahead with the head count too
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("body: %d bytes, %v", n, err)
	}
	// Head and body: a 4 KiB buffer's worth, then full records.
	if got, want := rc.appData, 6; got > want {
		t.Errorf("the %d KiB response came in %d TLS records (%d by the head), want at most %d", size>>10, got, before, want)
	}
}

// recordCounter counts the TLS application-data records the peer sent,
// by following the record headers in the bytes read.
type recordCounter struct {
	net.Conn
	hdr     [5]byte
	inHdr   int // header bytes seen of the current record
	left    int // body bytes left of the current record
	appData int
}

func (c *recordCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for b := p[:n]; len(b) > 0; {
		if c.left > 0 {
			k := min(c.left, len(b))
			c.left -= k
			b = b[k:]
			continue
		}
		c.hdr[c.inHdr] = b[0]
		c.inHdr++
		b = b[1:]
		if c.inHdr == len(c.hdr) {
			c.inHdr, c.left = 0, int(binary.BigEndian.Uint16(c.hdr[3:]))
			if c.hdr[0] == 23 { // application_data
				c.appData++
			}
		}
	}
	return n, err
}
