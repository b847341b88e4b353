package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/baton-dev/baton/pkg/dataplane/h1"
)

// The forwarding fields a client can use to claim another address, scheme
// or host. From a peer that is not a trusted proxy they are all replaced by
// what the proxy itself saw, as ingress-nginx does with use-forwarded-headers
// off and Envoy with xff_num_trusted_hops 0.
const (
	hdrXFF       = "X-Forwarded-For"
	hdrXFProto   = "X-Forwarded-Proto"
	hdrXFHost    = "X-Forwarded-Host"
	hdrXFPort    = "X-Forwarded-Port"
	hdrXRealIP   = "X-Real-Ip" // canonical form of X-Real-IP
	hdrForwarded = "Forwarded"
)

var forwardingHeaders = [...]string{hdrXFF, hdrXFProto, hdrXFHost, hdrXFPort, hdrXRealIP, hdrForwarded}

// origin is who sent a request, as far as the proxy can tell.
type origin struct {
	peer    string // the immediate peer's IP as in RemoteAddr; "" if it has none
	client  string // the client's IP, the peer's unless a trusted peer forwarded it
	trusted bool   // the peer is a trusted proxy: its forwarding fields are kept
}

// resolveClient finds the request's client: the peer (the PROXY protocol
// sender's client, when the listener speaks it), or, when the peer is a
// trusted proxy, the address it forwarded. Like nginx's realip module with
// real_ip_recursive on, X-Forwarded-For is read from the right, skipping
// trusted addresses: the first untrusted one is the client.
func (s *Session) resolveClient(trusted []netip.Prefix) {
	host, peer, ok := s.peerAddr.of(s.Request.RemoteAddr, s.Writer)
	if !ok {
		return
	}
	s.origin = origin{peer: host, client: host}
	s.ClientAddr = peer.Unmap()
	if !isTrusted(trusted, peer) {
		return
	}
	s.origin.trusted = true
	s.ClientAddr, s.origin.client = forwardedClient(s.RequestHeader(), trusted, s.ClientAddr, host)
}

// peerAddr is the RemoteAddr a Session parsed last, or the address the
// server handed it last in its stead. A Session is reused for the
// requests of a connection (see exchange), which share their
// RemoteAddr: parsing it again cost as much as matching the route.
type peerAddr struct {
	remote, host string // remote "": host is addr's, from the server
	addr         netip.Addr
}

// remoteAddrPorter is pkg/dataplane/server's HTTP/1 response writer,
// which tells the client's address (see server.RemoteAddrReader).
type remoteAddrPorter interface{ RemoteAddrPort() netip.AddrPort }

// of is the peer's IP, as a string and an address: parsed from remote,
// the request's RemoteAddr, or, when the server left that empty for a
// proxy whose phases read none (see RemoteAddrReader), the address
// the server tells through w. A RemoteAddr set, by the server or by a
// handler in front of the proxy, is what counts.
func (c *peerAddr) of(remote string, w http.ResponseWriter) (host string, addr netip.Addr, ok bool) {
	if remote != "" {
		return c.parse(remote)
	}
	if rw, isOurs := w.(*responseWriter); isOurs {
		w = rw.ResponseWriter
	}
	rp, _ := w.(remoteAddrPorter)
	if rp == nil {
		return "", netip.Addr{}, false
	}
	if addr = rp.RemoteAddrPort().Addr(); !addr.IsValid() {
		return "", netip.Addr{}, false
	}
	if c.remote == "" && c.host != "" && addr == c.addr {
		return c.host, addr, true // the same client: its string was made once
	}
	*c = peerAddr{host: addr.String(), addr: addr}
	return c.host, addr, true
}

// parse splits remote ("ip:port") into its host and address.
func (c *peerAddr) parse(remote string) (host string, addr netip.Addr, ok bool) {
	if remote == c.remote && remote != "" {
		return c.host, c.addr, true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return "", netip.Addr{}, false
	}
	if addr, err = netip.ParseAddr(host); err != nil {
		return "", netip.Addr{}, false
	}
	*c = peerAddr{remote: remote, host: host, addr: addr}
	return host, addr, true
}

// isTrusted reports whether addr is in one of the trusted prefixes.
func isTrusted(trusted []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardedClient walks X-Forwarded-For from the right. Each address was
// written by the hop to its right, so it is believed only while that hop
// is trusted. An element that is no address ends the walk: what is left
// of it cannot be read, and the last hop read is the nearest known client.
func forwardedClient(in *RequestHeader, trusted []netip.Prefix, client netip.Addr, clientStr string) (netip.Addr, string) {
	fields := in.h.fields
	for i := len(fields) - 1; i >= 0; i-- {
		if !h1.SameName(fields[i].Name, hdrXFF) {
			continue
		}
		for rest := fields[i].Value; rest != ""; {
			var elem string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				elem, rest = rest[j+1:], rest[:j]
			} else {
				elem, rest = rest, ""
			}
			if elem = strings.TrimSpace(elem); elem == "" {
				continue // empty list elements are allowed (RFC 9110 §5.6.1)
			}
			addr, str, ok := parseHop(elem)
			if !ok {
				return client, clientStr
			}
			client, clientStr = addr, str
			if !isTrusted(trusted, addr) {
				return client, clientStr
			}
		}
	}
	return client, clientStr
}

// parseHop reads an X-Forwarded-For element: an IP, or one with a port as
// some load balancers write it ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(elem string) (netip.Addr, string, bool) {
	if addr, err := netip.ParseAddr(elem); err == nil && addr.Zone() == "" {
		return addr.Unmap(), elem, true
	}
	if ap, err := netip.ParseAddrPort(elem); err == nil && ap.Addr().Zone() == "" {
		addr := ap.Addr().Unmap()
		return addr, addr.String(), true
	}
	return netip.Addr{}, "", false
}

// setForwarded adds the forwarding fields of an upstream request, whose
// copy of the client's fields left out those dropForwarding names.
// From an untrusted peer every client-sent one is replaced by what the
// proxy saw; a trusted peer's are kept, X-Forwarded-For (and Forwarded,
// if it sent one) get the peer appended, as each proxy in a chain does.
// Forwarded (RFC 7239) is not created: nginx, ingress-nginx and Envoy do
// not send it either, backends read X-Forwarded-*, and a second list that
// could disagree with the first costs an allocation per request. The
// fields the proxy sets come after the client's.
func (p *Proxy[C]) setForwarded(h *Header, s *Session) {
	// From an untrusted peer none is left: the fields are then added
	// without looking for what is there.
	replace := !s.origin.trusted
	in := s.Request
	if s.origin.peer != "" {
		if replace {
			h.addChecked(hdrXFF, s.origin.peer)
		} else {
			h.Add(hdrXFF, appendHop(h, s.origin.peer))
			h.Del(hdrXRealIP)
		}
		h.addChecked(hdrXRealIP, s.origin.client)
		if !replace && h.Has(hdrForwarded) {
			h.Set(hdrForwarded, h.joined(hdrForwarded)+", "+forwardedFor(s.origin.peer))
		}
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	if replace || !h.Has(hdrXFProto) {
		h.addChecked(hdrXFProto, proto)
	}
	if in.Host != "" && (replace || !h.Has(hdrXFHost)) {
		h.Add(hdrXFHost, in.Host)
	}
	if port := p.ports.of(in); port != "" && (replace || !h.Has(hdrXFPort)) {
		h.addChecked(hdrXFPort, port)
	}
}

// appendHop is X-Forwarded-For with peer appended, its fields removed
// from h: what a trusted peer sent, then peer.
func appendHop(h *Header, peer string) string {
	if !h.Has(hdrXFF) {
		return peer
	}
	prior := h.joined(hdrXFF)
	h.Del(hdrXFF)
	return prior + ", " + peer
}

// forwardedFor is an RFC 7239 for= pair; IPv6 is bracketed and quoted.
func forwardedFor(ip string) string {
	if strings.IndexByte(ip, ':') >= 0 {
		return `for="[` + ip + `]"`
	}
	return "for=" + ip
}

// dropForwarding reports whether the copy of a client's fields for an
// upstream leaves the field named k out: the forwarding fields if all,
// and in any case fields like X_Forwarded_For, which CGI-style backends
// (PHP, WSGI) read as X-Forwarded-For: both become HTTP_X_FORWARDED_FOR.
// No proxy writes them, whoever the peer is; nginx ignores underscored
// names by default for the same reason. Names compare without case.
func dropForwarding(k string, all bool) bool {
	if all && isForwardingName(k) {
		return true
	}
	if strings.IndexByte(k, '_') < 0 {
		return false
	}
	for _, name := range forwardingHeaders {
		if sameIgnoringUnderscore(k, name) {
			return true
		}
	}
	return false
}

// sameIgnoringUnderscore compares names case-insensitively, '_' matching '-'.
func sameIgnoringUnderscore(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if fold(a[i]) != fold(b[i]) {
			return false
		}
	}
	return true
}

// fold lower-cases ASCII letters and reads '_' as '-'.
func fold(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// portNames caches the decimal form of listener ports, so that
// X-Forwarded-Port costs no allocation per request. A proxy serves a
// handful of listeners; past maxPortNames the cache stops growing.
type portNames struct {
	mu    sync.Mutex // serialises growing
	names atomic.Pointer[map[int]string]
}

const maxPortNames = 16

// of is the port of the listener the request came in on ("" if unknown).
// With the PROXY protocol it is the port the client connected to at the
// load balancer, which is what the connection reports as its local address.
func (c *portNames) of(r *http.Request) string {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	port := portOf(a)
	if port <= 0 {
		return ""
	}
	if m := c.names.Load(); m != nil {
		if s, ok := (*m)[port]; ok {
			return s
		}
	}
	return c.add(port)
}

func (c *portNames) add(port int) string {
	s := strconv.Itoa(port)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.names.Load()
	if old != nil && len(*old) >= maxPortNames {
		return s
	}
	m := make(map[int]string, 4)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[port] = s
	c.names.Store(&m)
	return s
}

func portOf(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case nil:
		return 0
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return 0
	}
	return int(ap.Port())
}

// ParseTrustedProxies reads a comma-separated list of CIDRs and IPs (an IP
// is a prefix of its full length). Host bits of a CIDR are ignored, as
// nginx's set_real_ip_from does.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := parsePrefix(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func parsePrefix(item string) (netip.Prefix, error) {
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (like 10.0.0.0/8 or fd00::/8)", item)
		}
		return unmapPrefix(p.Masked()), nil
	}
	addr, err := netip.ParseAddr(item)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", item)
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// unmapPrefix turns ::ffff:10.0.0.0/104 into 10.0.0.0/8: addresses are
// unmapped before they are matched.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}
