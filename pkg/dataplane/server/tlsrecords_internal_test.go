package server

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"strings"
	"testing"
	"time"
)

// A TLS 1.3 client that also writes records of its own, which Go's
// crypto/tls has no API to send (a KeyUpdate, a record that fails its
// authentication), and reads back what the server sent, decrypted, to
// assert it record by record. Its keys come from the traffic secrets of
// the handshake (Config.KeyLogWriter, as in the NSS key log format), its
// write sequence number from counting the records the tls.Conn wrote.

// rawTLSClient is a TLS 1.3 client connection to a server: idle is its
// HTTP/1 side, whose writes are the tls.Conn's until the client writes a
// KeyUpdate, its own from then on (the tls.Conn's key is then stale).
type rawTLSClient struct {
	idle   *idleClient
	tc     *tls.Conn
	tap    *recordTap
	cc     *coalescingConn // under it all: coalesces writes into one segment
	out    *recordKeys     // the client's write keys
	keylog bytes.Buffer
}

// recordTap is the TCP connection under the client's tls.Conn: it counts
// the records the tls.Conn writes (crypto/tls writes whole records), and
// keeps every byte the server sent.
type recordTap struct {
	*coalescingConn
	written uint64
	got     []byte
}

func (r *recordTap) Write(p []byte) (int, error) {
	for rest := p; len(rest) >= 5; r.written++ {
		rest = rest[min(len(rest), 5+(int(rest[3])<<8|int(rest[4]))):]
	}
	return r.coalescingConn.Write(p)
}

func (r *recordTap) Read(p []byte) (int, error) {
	n, err := r.coalescingConn.Read(p)
	r.got = append(r.got, p[:n]...)
	return n, err
}

// dialRawTLS connects to s's listener "http" and makes the handshake.
func dialRawTLS(t *testing.T, s *Server, clientConf *tls.Config) *rawTLSClient {
	t.Helper()
	raw, err := net.Dial("tcp", s.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	c := &rawTLSClient{cc: &coalescingConn{Conn: raw}}
	c.tap = &recordTap{coalescingConn: c.cc}
	conf := clientConf.Clone()
	conf.MinVersion = tls.VersionTLS13
	conf.KeyLogWriter = &c.keylog
	c.tc = tls.Client(c.tap, conf)
	t.Cleanup(func() { c.tc.Close() })
	c.tc.SetDeadline(time.Now().Add(parkSafety))
	if err := c.tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.tap.written = 0 // the client's Finished was the last of its handshake
	c.idle = &idleClient{Conn: rawWriteConn{c.tc, c}, rd: bufio.NewReader(c.tc)}
	return c
}

// rawWriteConn is the client's tls.Conn, but for its writes after a
// KeyUpdate, which the client encrypts itself.
type rawWriteConn struct {
	*tls.Conn
	c *rawTLSClient
}

func (w rawWriteConn) Write(p []byte) (int, error) {
	if w.c.out == nil {
		return w.Conn.Write(p)
	}
	if len(p) > 0 {
		if _, err := w.c.cc.Write(w.c.out.seal(recordApplicationData, p)); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

const (
	recordAlert           = 21
	recordHandshake       = 22
	recordApplicationData = 23
	handshakeKeyUpdate    = 24
)

// keyUpdate writes a KeyUpdate (RFC 8446 §4.6.3) after what the tls.Conn
// wrote, and moves the client's writes to the next key.
func (c *rawTLSClient) keyUpdate(t *testing.T, requested bool) {
	t.Helper()
	if c.out == nil {
		c.out = newRecordKeys(t, c.tc.ConnectionState().CipherSuite, c.secret(t, "CLIENT_TRAFFIC_SECRET_0"))
		c.out.seq = c.tap.written
	}
	req := byte(0)
	if requested {
		req = 1
	}
	if _, err := c.cc.Write(c.out.seal(recordHandshake, []byte{handshakeKeyUpdate, 0, 0, 1, req})); err != nil {
		t.Fatal(err)
	}
	c.out.update()
}

// badRecord writes an application data record that fails its
// authentication: a server must answer it with a bad_record_mac alert.
func (c *rawTLSClient) badRecord(t *testing.T) {
	t.Helper()
	rec := []byte{recordApplicationData, 3, 3, 0, 32}
	if _, err := c.cc.Write(append(rec, bytes.Repeat([]byte{0x5a}, 32)...)); err != nil {
		t.Fatal(err)
	}
}

// secret is the handshake's traffic secret of that name, from the key log.
func (c *rawTLSClient) secret(t *testing.T, name string) []byte {
	t.Helper()
	for line := range strings.SplitSeq(c.keylog.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == name {
			b, err := hex.DecodeString(f[2])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no %s in the key log", name)
	return nil
}

// received is what the server sent after the handshake, one entry per
// record: "data:" and the plaintext, "keyupdate:" and whether it asked
// for one back, "alert:" level and description, "ticket".
func (c *rawTLSClient) received(t *testing.T) []string {
	t.Helper()
	in := newRecordKeys(t, c.tc.ConnectionState().CipherSuite, c.secret(t, "SERVER_TRAFFIC_SECRET_0"))
	var got []string
	for rest := c.tap.got; len(rest) >= 5; {
		n := 5 + (int(rest[3])<<8 | int(rest[4]))
		if n > len(rest) {
			t.Fatalf("a record cut short: %d bytes of %d", len(rest), n)
		}
		rec := rest[:n]
		rest = rest[n:]
		typ, plain, ok := in.open(rec)
		if !ok {
			continue // the handshake's: in the clear, or under its own keys
		}
		got = append(got, describeRecord(t, typ, plain))
		if typ == recordHandshake && plain[0] == handshakeKeyUpdate {
			in.update()
		}
	}
	return got
}

func describeRecord(t *testing.T, typ byte, plain []byte) string {
	switch {
	case typ == recordApplicationData:
		return "data:" + string(plain)
	case typ == recordAlert && len(plain) == 2:
		return fmt.Sprintf("alert:%d,%d", plain[0], plain[1])
	case typ == recordHandshake && len(plain) == 5 && plain[0] == handshakeKeyUpdate:
		return fmt.Sprintf("keyupdate:%d", plain[4])
	case typ == recordHandshake && plain[0] == 4:
		return "ticket"
	}
	t.Fatalf("unexpected record of type %d: %x", typ, plain)
	return ""
}

// joinData merges the plaintext of consecutive data records: one
// response may take several.
func joinData(records []string) []string {
	var out []string
	for _, r := range records {
		if r == "ticket" {
			continue
		}
		if n := len(out); n > 0 && strings.HasPrefix(r, "data:") && strings.HasPrefix(out[n-1], "data:") {
			out[n-1] += strings.TrimPrefix(r, "data:")
			continue
		}
		out = append(out, r)
	}
	return out
}

// recordKeys are one direction's TLS 1.3 record protection (RFC 8446
// §5.2, §7.3).
type recordKeys struct {
	hash   func() hash.Hash
	secret []byte
	keyLen int
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
}

func newRecordKeys(t *testing.T, suite uint16, secret []byte) *recordKeys {
	t.Helper()
	k := &recordKeys{secret: secret, keyLen: 16}
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		k.hash = sha256.New
	case tls.TLS_AES_256_GCM_SHA384:
		k.hash, k.keyLen = sha512.New384, 32
	default:
		t.Skipf("cipher suite %s: the test client has AES-GCM only", tls.CipherSuiteName(suite))
	}
	k.rekey()
	return k
}

func (k *recordKeys) rekey() {
	block, err := aes.NewCipher(expandLabel(k.hash, k.secret, "key", k.keyLen))
	if err != nil {
		panic(err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		panic(err)
	}
	k.iv, k.seq = expandLabel(k.hash, k.secret, "iv", 12), 0
}

// update moves to the next traffic secret, as a KeyUpdate does.
func (k *recordKeys) update() {
	k.secret = expandLabel(k.hash, k.secret, "traffic upd", k.hash().Size())
	k.rekey()
}

// HKDF-Expand-Label of RFC 8446 §7.1, with an empty context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := append([]byte{byte(n >> 8), byte(n), byte(len(full))}, full...)
	out, err := hkdf.Expand(h, secret, string(append(info, 0)), n)
	if err != nil {
		panic(err)
	}
	return out
}

func (k *recordKeys) nonce() []byte {
	nonce := bytes.Clone(k.iv)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(k.seq >> (8 * i))
	}
	k.seq++
	return nonce
}

func (k *recordKeys) seal(typ byte, payload []byte) []byte {
	n := len(payload) + 1 + k.aead.Overhead()
	hdr := []byte{recordApplicationData, 3, 3, byte(n >> 8), byte(n)}
	return k.aead.Seal(bytes.Clone(hdr), k.nonce(), append(bytes.Clone(payload), typ), hdr)
}

// open decrypts rec, and reports false if it is not under these keys.
func (k *recordKeys) open(rec []byte) (typ byte, plain []byte, ok bool) {
	if rec[0] != recordApplicationData {
		return 0, nil, false
	}
	nonce := k.nonce()
	plain, err := k.aead.Open(nil, nonce, rec[5:], rec[:5])
	if err != nil {
		k.seq--
		return 0, nil, false
	}
	plain = bytes.TrimRight(plain, "\x00") // padding
	return plain[len(plain)-1], plain[:len(plain)-1], true
}
