package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) puts
// the client's address in front of the byte stream, so that a load balancer
// working at layer 4 can tell who connected to it.
const (
	v1Prefix  = "PROXY "
	v1MaxLen  = 107 // the longest v1 line the spec allows, CRLF included
	v2Sig     = "\r\n\r\n\x00\r\nQUIT\n"
	v2HeadLen = 16
	// v2MaxPayload bounds the addresses and TLVs of a v2 header. The spec
	// allows 64 KiB; cloud load balancers send a few dozen bytes of TLVs
	// (AWS VPC endpoint ID, GCP PSC connection ID, Azure link ID).
	v2MaxPayload = 4096
)

// proxyHeader is what a PROXY protocol header said: the client's address
// and the address it connected to, both invalid when the sender speaks
// for itself (v2 LOCAL, a health check) or for an address that is not IP
// (v1 UNKNOWN, v2 UNSPEC or UNIX); the connection's own addresses stand then.
type proxyHeader struct {
	src, dst netip.AddrPort
}

// errNeedMore means that what was received so far is a valid beginning.
var errNeedMore = errors.New("incomplete PROXY protocol header")

// errProxyHeader is wrapped by every refusal of a malformed header.
var errProxyHeader = errors.New("bad PROXY protocol header")

func badHeader(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errProxyHeader}, args...)...)
}

// parseProxyHeader reads the header at the start of b. It returns the
// header and its length, or errNeedMore with the length b must reach (0
// when not yet known), or an error wrapping errProxyHeader.
func parseProxyHeader(b []byte) (proxyHeader, int, error) {
	switch {
	case len(b) == 0:
		return proxyHeader{}, 0, errNeedMore
	case b[0] == v2Sig[0]:
		return parseV2(b)
	case b[0] == v1Prefix[0]:
		return parseV1(b)
	}
	return proxyHeader{}, 0, badHeader("no PROXY signature")
}

// startsLike reports whether b and sig agree on their common length.
func startsLike(b []byte, sig string) bool {
	n := min(len(b), len(sig))
	return string(b[:n]) == sig[:n]
}

func parseV1(b []byte) (proxyHeader, int, error) {
	if !startsLike(b, v1Prefix) {
		return proxyHeader{}, 0, badHeader("no PROXY signature")
	}
	end := bytes.IndexByte(b[:min(len(b), v1MaxLen)], '\n')
	switch {
	case end < 0 && len(b) >= v1MaxLen:
		return proxyHeader{}, 0, badHeader("v1 line longer than %d bytes", v1MaxLen)
	case end < 0:
		return proxyHeader{}, 0, errNeedMore
	case end < len(v1Prefix) || b[end-1] != '\r':
		return proxyHeader{}, 0, badHeader("v1 line does not end in CRLF")
	}
	h, err := parseV1Fields(b[len(v1Prefix) : end-1])
	return h, end + 1, err
}

// parseV1Fields reads "TCP4 src dst srcport dstport" (or TCP6), or
// "UNKNOWN" followed by anything, fields separated by single spaces.
func parseV1Fields(line []byte) (proxyHeader, error) {
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(proto) {
	case "UNKNOWN":
		return proxyHeader{}, nil
	case "TCP4", "TCP6":
	default:
		return proxyHeader{}, badHeader("v1 protocol %q is not TCP4, TCP6 or UNKNOWN", proto)
	}
	f := bytes.Split(rest, []byte(" "))
	if len(f) != 4 {
		return proxyHeader{}, badHeader("v1 %s line has %d fields after the protocol, want 4", proto, len(f))
	}
	src, err1 := v1Addr(f[0], f[2], string(proto) == "TCP4")
	dst, err2 := v1Addr(f[1], f[3], string(proto) == "TCP4")
	if err := errors.Join(err1, err2); err != nil {
		return proxyHeader{}, err
	}
	return proxyHeader{src: src, dst: dst}, nil
}

func v1Addr(ip, port []byte, v4 bool) (netip.AddrPort, error) {
	addr, err := netip.ParseAddr(string(ip))
	if err != nil || addr.Zone() != "" || addr.Is4() != v4 {
		return netip.AddrPort{}, badHeader("v1 address %q is not an %s address", ip, ipFamily(v4))
	}
	p, ok := v1Port(port)
	if !ok {
		return netip.AddrPort{}, badHeader("v1 port %q is not in 0..65535", port)
	}
	return netip.AddrPortFrom(addr, p), nil
}

func ipFamily(v4 bool) string {
	if v4 {
		return "IPv4"
	}
	return "IPv6"
}

func v1Port(s []byte) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// v2 command (low nibble of byte 13) and address family + transport (byte 14).
const (
	v2Local      = 0x0
	v2Proxy      = 0x1
	v2Unspec     = 0x00
	v2TCP4       = 0x11
	v2UDP4       = 0x12
	v2TCP6       = 0x21
	v2UDP6       = 0x22
	v2UnixStream = 0x31
	v2UnixDgram  = 0x32
)

func parseV2(b []byte) (proxyHeader, int, error) {
	if !startsLike(b, v2Sig) {
		return proxyHeader{}, 0, badHeader("no PROXY signature")
	}
	if len(b) < v2HeadLen {
		return proxyHeader{}, v2HeadLen, errNeedMore
	}
	if b[12]>>4 != 2 {
		return proxyHeader{}, 0, badHeader("v2 version %d", b[12]>>4)
	}
	cmd, fam := b[12]&0xf, b[13]
	size := int(binary.BigEndian.Uint16(b[14:16]))
	switch {
	case cmd != v2Local && cmd != v2Proxy:
		return proxyHeader{}, 0, badHeader("v2 command %#x is neither LOCAL nor PROXY", cmd)
	case size > v2MaxPayload:
		return proxyHeader{}, 0, badHeader("v2 payload of %d bytes exceeds %d", size, v2MaxPayload)
	case len(b) < v2HeadLen+size:
		return proxyHeader{}, v2HeadLen + size, errNeedMore
	}
	total := v2HeadLen + size
	if cmd == v2Local {
		return proxyHeader{}, total, nil // addresses, if any, are to be ignored
	}
	h, err := parseV2Addrs(fam, b[v2HeadLen:total])
	return h, total, err
}

// parseV2Addrs reads the address block that follows the fixed 16 bytes;
// what follows the addresses (TLVs) is skipped.
func parseV2Addrs(fam byte, p []byte) (proxyHeader, error) {
	switch fam {
	case v2TCP4:
		if len(p) < 12 {
			return proxyHeader{}, badHeader("v2 TCP4 payload of %d bytes, want 12", len(p))
		}
		src := netip.AddrFrom4([4]byte(p[0:4]))
		dst := netip.AddrFrom4([4]byte(p[4:8]))
		return v2Ports(src, dst, p[8:12]), nil
	case v2TCP6:
		if len(p) < 36 {
			return proxyHeader{}, badHeader("v2 TCP6 payload of %d bytes, want 36", len(p))
		}
		src := netip.AddrFrom16([16]byte(p[0:16]))
		dst := netip.AddrFrom16([16]byte(p[16:32]))
		return v2Ports(src, dst, p[32:36]), nil
	case v2Unspec, v2UnixStream, v2UnixDgram:
		return proxyHeader{}, nil // not an IP client: the connection's own addresses stand
	case v2UDP4, v2UDP6:
		return proxyHeader{}, badHeader("v2 header is for UDP on a TCP listener")
	}
	return proxyHeader{}, badHeader("v2 address family %#02x", fam)
}

func v2Ports(src, dst netip.Addr, ports []byte) proxyHeader {
	return proxyHeader{
		src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2])),
		dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4])),
	}
}
