package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

// v2 builds a version 2 header: command, family, and payload (addresses
// and TLVs), with the length field set to len(payload).
func v2(cmd, fam byte, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	b := append([]byte(v2Sig), 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(p)))
	return append(b, p...)
}

func v2TCP4Addrs() []byte {
	return []byte{203, 0, 113, 7, 192, 0, 2, 1, 0x12, 0x67, 0x01, 0xbb} // :4711 -> :443
}

func v2TCP6Addrs() []byte {
	src := netip.MustParseAddr("2001:db8::7").As16()
	dst := netip.MustParseAddr("2001:db8::1").As16()
	return append(append(src[:], dst[:]...), 0x12, 0x67, 0x01, 0xbb)
}

// tlv is a v2 type-length-value record (AWS sends 0xEA with the VPC
// endpoint ID, GCP 0xE0, Azure 0xEE).
func tlv(typ byte, value string) []byte {
	return append([]byte{typ, byte(len(value) >> 8), byte(len(value))}, value...)
}

var (
	tcp4Header = proxyHeader{src: netip.MustParseAddrPort("203.0.113.7:4711"), dst: netip.MustParseAddrPort("192.0.2.1:443")}
	tcp6Header = proxyHeader{src: netip.MustParseAddrPort("[2001:db8::7]:4711"), dst: netip.MustParseAddrPort("[2001:db8::1]:443")}
)

func TestParseProxyHeader(t *testing.T) {
	longV1 := "PROXY UNKNOWN " + strings.Repeat("x", v1MaxLen-len("PROXY UNKNOWN ")-2) // exactly 107 with CRLF
	for _, tc := range []struct {
		name string
		in   []byte
		want proxyHeader
		n    int    // header length; for errNeedMore the length needed (0: unknown)
		err  string // "" ok, "more" errNeedMore, else a refusal containing it
	}{
		{name: "v1 TCP4", in: []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\nGET"), want: tcp4Header, n: 43},
		{name: "v1 TCP6", in: []byte("PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n"), want: tcp6Header, n: 45},
		{name: "v1 UNKNOWN", in: []byte("PROXY UNKNOWN\r\n"), n: 15},
		{name: "v1 UNKNOWN with addresses to ignore", in: []byte("PROXY UNKNOWN ::1 ::1 1 2\r\n"), n: 27},
		{name: "v1 of the longest allowed length", in: []byte(longV1 + "\r\n"), n: v1MaxLen},
		{name: "v1 longest TCP6", in: []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), n: 104,
			want: proxyHeader{src: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), dst: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
		{name: "v1 truncated", in: []byte("PROXY TCP4 203.0.113.7 19"), err: "more"},
		{name: "v1 signature truncated", in: []byte("PRO"), err: "more"},
		{name: "nothing yet", in: nil, err: "more"},
		{name: "v1 line over 107 bytes", in: []byte(longV1 + "x\r\n"), err: "longer than 107"},
		{name: "v1 without CR", in: []byte("PROXY UNKNOWN\n"), err: "CRLF"},
		{name: "v1 bad protocol", in: []byte("PROXY UDP4 203.0.113.7 192.0.2.1 4711 443\r\n"), err: "not TCP4"},
		{name: "v1 IPv6 under TCP4", in: []byte("PROXY TCP4 2001:db8::7 192.0.2.1 4711 443\r\n"), err: "not an IPv4"},
		{name: "v1 IPv4 under TCP6", in: []byte("PROXY TCP6 203.0.113.7 2001:db8::1 4711 443\r\n"), err: "not an IPv6"},
		{name: "v1 hostname", in: []byte("PROXY TCP4 lb.example 192.0.2.1 4711 443\r\n"), err: "not an IPv4"},
		{name: "v1 port out of range", in: []byte("PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n"), err: "not in 0..65535"},
		{name: "v1 signed port", in: []byte("PROXY TCP4 203.0.113.7 192.0.2.1 +4711 443\r\n"), err: "not in 0..65535"},
		{name: "v1 double space", in: []byte("PROXY TCP4 203.0.113.7  192.0.2.1 4711 443\r\n"), err: "fields"},
		{name: "v1 missing port", in: []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711\r\n"), err: "fields"},
		{name: "v1 zone", in: []byte("PROXY TCP6 fe80::1%eth0 2001:db8::1 4711 443\r\n"), err: "not an IPv6"},
		{name: "v1 lower case", in: []byte("proxy TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"), err: "signature"},

		{name: "v2 TCP4", in: append(v2(v2Proxy, v2TCP4, v2TCP4Addrs()), "GET"...), want: tcp4Header, n: 28},
		{name: "v2 TCP6", in: v2(v2Proxy, v2TCP6, v2TCP6Addrs()), want: tcp6Header, n: 52},
		{name: "v2 TLVs skipped", in: v2(v2Proxy, v2TCP4, v2TCP4Addrs(), tlv(0xea, "vpce-0123456789abcdef0"), tlv(0x04, "")), want: tcp4Header, n: 28 + 25 + 3},
		{name: "v2 LOCAL", in: v2(v2Local, v2Unspec), n: 16},
		{name: "v2 LOCAL with addresses to ignore", in: v2(v2Local, v2TCP4, v2TCP4Addrs()), n: 28},
		{name: "v2 UNSPEC", in: v2(v2Proxy, v2Unspec, []byte("ignored")), n: 23},
		{name: "v2 UNIX", in: v2(v2Proxy, v2UnixStream, make([]byte, 216)), n: 232},
		{name: "v2 longest payload", in: v2(v2Proxy, v2TCP4, v2TCP4Addrs(), make([]byte, v2MaxPayload-12)), want: tcp4Header, n: 16 + v2MaxPayload},
		{name: "v2 fixed part truncated", in: []byte(v2Sig + "\x21"), err: "more", n: 16},
		{name: "v2 signature truncated", in: []byte(v2Sig[:5]), err: "more", n: 16},
		{name: "v2 payload truncated", in: v2(v2Proxy, v2TCP6, v2TCP6Addrs())[:40], err: "more", n: 52},
		{name: "v2 oversized", in: v2(v2Proxy, v2TCP4, v2TCP4Addrs(), make([]byte, v2MaxPayload-11)), err: "exceeds 4096"},
		{name: "v2 bad signature", in: []byte("\r\n\r\n\x00\r\nQUIT\r" + "\x21\x11\x00\x0c"), err: "signature"},
		{name: "v2 bad version", in: append([]byte(v2Sig), 0x11, v2TCP4, 0, 0), err: "version 1"},
		{name: "v2 bad command", in: v2(0x2, v2TCP4, v2TCP4Addrs()), err: "neither LOCAL nor PROXY"},
		{name: "v2 bad family", in: v2(v2Proxy, 0x41, v2TCP4Addrs()), err: "family 0x41"},
		{name: "v2 bad transport", in: v2(v2Proxy, 0x13, v2TCP4Addrs()), err: "family 0x13"},
		{name: "v2 UDP", in: v2(v2Proxy, v2UDP4, v2TCP4Addrs()), err: "UDP"},
		{name: "v2 TCP4 addresses short", in: v2(v2Proxy, v2TCP4, v2TCP4Addrs()[:11]), err: "want 12"},
		{name: "v2 TCP6 addresses short", in: v2(v2Proxy, v2TCP6, v2TCP4Addrs()), err: "want 36"},
		{name: "TLS ClientHello", in: []byte{0x16, 0x03, 0x01, 0x02, 0x00}, err: "no PROXY signature"},
		{name: "plain HTTP", in: []byte("GET / HTTP/1.1\r\n"), err: "no PROXY signature"},
		{name: "HTTP/2 preface", in: []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), err: "no PROXY signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := parseProxyHeader(tc.in)
			switch {
			case tc.err == "more":
				if !errors.Is(err, errNeedMore) || n != tc.n {
					t.Fatalf("got n=%d, %v; want errNeedMore needing %d", n, err, tc.n)
				}
			case tc.err != "":
				if !errors.Is(err, errProxyHeader) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v; want a refusal containing %q", err, tc.err)
				}
			case err != nil || n != tc.n || h != tc.want:
				t.Fatalf("got %+v, n=%d, %v; want %+v, n=%d", h, n, err, tc.want, tc.n)
			}
		})
	}
}

// A header arriving a byte at a time is read without taking anything that
// follows it, and what was read past it in bigger reads is handed back.
func TestReadProxyHeaderKeepsWhatFollows(t *testing.T) {
	for name, hdr := range map[string][]byte{
		"v1": []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"),
		"v2": v2(v2Proxy, v2TCP4, v2TCP4Addrs(), tlv(0xea, strings.Repeat("v", 300))), // grows the buffer
	} {
		stream := append(append([]byte(nil), hdr...), "GET / HTTP/1.1\r\n"...)
		for how, r := range map[string]io.Reader{
			"one byte at a time": iotest.OneByteReader(bytes.NewReader(stream)),
			"all at once":        bytes.NewReader(stream),
			"half at a time":     iotest.HalfReader(bytes.NewReader(stream)),
		} {
			h, rest, err := readProxyHeader(r, 0)
			if err != nil || h != tcp4Header {
				t.Fatalf("%s %s: %+v, %v", name, how, h, err)
			}
			after, _ := io.ReadAll(r)
			if got := string(rest) + string(after); got != "GET / HTTP/1.1\r\n" {
				t.Errorf("%s %s: what follows the header = %q", name, how, got)
			}
		}
	}
}

func TestReadProxyHeaderTruncatedByTheClient(t *testing.T) {
	for in, want := range map[string]string{
		"":            "closed before sending one",
		"PROXY TCP4 ": "closed after 11 bytes",
	} {
		_, _, err := readProxyHeader(strings.NewReader(in), 0)
		if !errors.Is(err, errProxyHeader) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a refusal containing %q", in, err, want)
		}
	}
}

// FuzzParseProxyHeader checks the parser never panics, never claims more
// than it was given or than the spec bounds, and that a header delimits
// itself: whatever follows it does not change what it says.
func FuzzParseProxyHeader(f *testing.F) {
	for _, seed := range [][]byte{
		[]byte("PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"),
		[]byte("PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\nGET"),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 1.1.1.1 1.1.1.1 1 1\n"),
		v2(v2Proxy, v2TCP4, v2TCP4Addrs()),
		v2(v2Proxy, v2TCP6, v2TCP6Addrs(), tlv(0xea, "vpce-1")),
		v2(v2Local, v2Unspec),
		v2(v2Proxy, v2UnixStream, make([]byte, 216)),
		v2(v2Proxy, 0x41, v2TCP4Addrs()),
		[]byte(v2Sig),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseProxyHeader(b)
		switch {
		case errors.Is(err, errNeedMore):
			if n != 0 && n <= len(b) {
				t.Fatalf("needs %d bytes but has %d", n, len(b))
			}
			return
		case err != nil:
			if !errors.Is(err, errProxyHeader) {
				t.Fatalf("refusal %v does not wrap errProxyHeader", err)
			}
			return
		}
		if n <= 0 || n > len(b) || n > v2HeadLen+v2MaxPayload {
			t.Fatalf("header length %d of %d bytes", n, len(b))
		}
		if b[0] == 'P' && n > v1MaxLen {
			t.Fatalf("v1 header of %d bytes", n)
		}
		h2, n2, err2 := parseProxyHeader(b[:n])
		if err2 != nil || n2 != n || h2 != h {
			t.Fatalf("the header alone reads differently: %+v %d %v, was %+v %d", h2, n2, err2, h, n)
		}
		if h.src.IsValid() != h.dst.IsValid() {
			t.Fatalf("half an address pair: %+v", h)
		}
	})
}
