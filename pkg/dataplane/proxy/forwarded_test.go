package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// forwardingCase is a request from peer with the given fields, and what
// the upstream request must carry (nil: absent).
type forwardingCase struct {
	name    string
	trusted string // --trusted-proxies
	peer    string // RemoteAddr
	tls     bool
	send    map[string][]string
	want    map[string][]string
	client  string // Session.ClientAddr
}

// spoofed is what a client sends to pass for someone else.
var spoofed = map[string][]string{
	"X-Forwarded-For":   {"203.0.113.7"},
	"X-Forwarded-Proto": {"https"},
	"X-Forwarded-Host":  {"admin.internal"},
	"X-Forwarded-Port":  {"443"},
	"X-Real-Ip":         {"203.0.113.7"},
	"Forwarded":         {"for=203.0.113.7;proto=https"},
}

var forwardingCases = []forwardingCase{{
	name: "untrusted: every claim replaced, Forwarded dropped",
	peer: "198.51.100.1:5000", send: spoofed, client: "198.51.100.1",
	want: map[string][]string{
		"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"shop.example"},
		"X-Forwarded-Port": {"8080"}, "X-Real-Ip": {"198.51.100.1"}, "Forwarded": nil,
	},
}, {
	name: "untrusted over TLS: proto is what the proxy saw",
	peer: "198.51.100.1:5000", tls: true, send: map[string][]string{"X-Forwarded-Proto": {"http"}}, client: "198.51.100.1",
	want: map[string][]string{"X-Forwarded-Proto": {"https"}},
}, {
	name: "peer outside the trusted prefixes is untrusted", trusted: "10.0.0.0/8",
	peer: "198.51.100.1:5000", send: spoofed, client: "198.51.100.1",
	want: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-Ip": {"198.51.100.1"}, "Forwarded": nil, "X-Forwarded-Proto": {"http"}},
}, {
	name: "untrusted IPv6", peer: "[2001:db8::1]:5000", send: spoofed, client: "2001:db8::1",
	want: map[string][]string{"X-Forwarded-For": {"2001:db8::1"}, "X-Real-Ip": {"2001:db8::1"}, "Forwarded": nil},
}, {
	name: "trusted: appended to, claims kept, client from the right", trusted: "10.0.0.0/8",
	peer: "10.0.0.2:5000", client: "203.0.113.7",
	send: map[string][]string{
		"X-Forwarded-For": {"198.51.100.9, 203.0.113.7, 10.0.0.5"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {"shop.example"}, "X-Forwarded-Port": {"443"}, "X-Real-Ip": {"198.51.100.9"},
		"Forwarded": {"for=203.0.113.7;proto=https"},
	},
	want: map[string][]string{
		"X-Forwarded-For":   {"198.51.100.9, 203.0.113.7, 10.0.0.5, 10.0.0.2"},
		"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example"}, "X-Forwarded-Port": {"443"},
		"X-Real-Ip": {"203.0.113.7"}, "Forwarded": {"for=203.0.113.7;proto=https, for=10.0.0.2"},
	},
}, {
	name: "trusted without forwarding fields: set as seen", trusted: "10.0.0.2",
	peer: "10.0.0.2:5000", client: "10.0.0.2",
	want: map[string][]string{
		"X-Forwarded-For": {"10.0.0.2"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"shop.example"},
		"X-Forwarded-Port": {"8080"}, "X-Real-Ip": {"10.0.0.2"}, "Forwarded": nil,
	},
}, {
	name: "trusted: every hop trusted, the leftmost is the client", trusted: "10.0.0.0/8",
	peer: "10.0.0.2:5000", client: "10.1.1.1",
	send: map[string][]string{"X-Forwarded-For": {"10.1.1.1, 10.0.0.5"}},
	want: map[string][]string{"X-Forwarded-For": {"10.1.1.1, 10.0.0.5, 10.0.0.2"}, "X-Real-Ip": {"10.1.1.1"}},
}, {
	name: "trusted: several field lines are one list", trusted: "10.0.0.0/8",
	peer: "10.0.0.2:5000", client: "203.0.113.7",
	send: map[string][]string{"X-Forwarded-For": {"192.0.2.1, 203.0.113.7", "10.0.0.9,,"}},
	want: map[string][]string{"X-Forwarded-For": {"192.0.2.1, 203.0.113.7, 10.0.0.9,,, 10.0.0.2"}, "X-Real-Ip": {"203.0.113.7"}},
}, {
	name: "trusted: an unreadable hop ends the walk", trusted: "10.0.0.0/8",
	peer: "10.0.0.2:5000", client: "10.0.0.5",
	send: map[string][]string{"X-Forwarded-For": {"203.0.113.7, unknown, 10.0.0.5"}},
	want: map[string][]string{"X-Real-Ip": {"10.0.0.5"}},
}, {
	name: "trusted IPv6: hops with ports, Forwarded quoted", trusted: "fd00::/8, 10.0.0.0/8",
	peer: "[fd00::2]:5000", client: "2001:db8::7",
	send: map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:4711, 10.0.0.5:80"}, "Forwarded": {`for="[2001:db8::7]"`}},
	want: map[string][]string{
		"X-Forwarded-For": {"[2001:db8::7]:4711, 10.0.0.5:80, fd00::2"}, "X-Real-Ip": {"2001:db8::7"},
		"Forwarded": {`for="[2001:db8::7]", for="[fd00::2]"`},
	},
}, {
	name: "IPv4-mapped peer matches an IPv4 prefix", trusted: "10.0.0.0/8",
	peer: "[::ffff:10.0.0.2]:5000", client: "203.0.113.7",
	send: map[string][]string{"X-Forwarded-For": {"203.0.113.7"}},
	want: map[string][]string{"X-Forwarded-For": {"203.0.113.7, ::ffff:10.0.0.2"}, "X-Real-Ip": {"203.0.113.7"}},
}, {
	name: "underscored spellings are dropped even from a trusted peer", trusted: "10.0.0.0/8",
	peer: "10.0.0.2:5000", client: "10.0.0.2",
	send: map[string][]string{"X_forwarded_for": {"203.0.113.7"}, "X-real_ip": {"203.0.113.7"}, "X_custom": {"kept"}},
	want: map[string][]string{"X_forwarded_for": nil, "X-real_ip": nil, "X_custom": {"kept"}, "X-Real-Ip": {"10.0.0.2"}},
}}

func TestForwardingFields(t *testing.T) {
	for _, tc := range forwardingCases {
		t.Run(tc.name, func(t *testing.T) {
			trusted, err := ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			s, h := forwardCase(trusted, tc)
			if got := s.ClientAddr.String(); got != tc.client {
				t.Errorf("ClientAddr = %s, want %s", got, tc.client)
			}
			for k, v := range tc.want {
				if got := h[k]; !slices.Equal(got, v) {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// forwardCase runs what the proxy does to a request's header on its way up.
func forwardCase(trusted []netip.Prefix, tc forwardingCase) (*Session, http.Header) {
	p := New[struct{}](nil, Options{TrustedProxies: trusted})
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, local)
	r, _ := http.NewRequestWithContext(ctx, "GET", "http://shop.example/", nil)
	r.RemoteAddr = tc.peer
	for k, v := range tc.send {
		r.Header[k] = slices.Clone(v)
	}
	if tc.tls {
		r.TLS = &tls.ConnectionState{}
	}
	s := &Session{Request: r}
	s.resolveClient(trusted)
	var h Header
	p.upstreamFields(s, SchemeHTTP1, &h)
	return s, h.Clone()
}

func TestNoClientAddressWithoutAnIPPeer(t *testing.T) {
	s, h := forwardCase(nil, forwardingCase{peer: "@", send: spoofed})
	if s.ClientAddr.IsValid() {
		t.Errorf("ClientAddr = %s for a peer without an IP", s.ClientAddr)
	}
	for _, k := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		if v, ok := h[k]; ok {
			t.Errorf("%s = %q, want the client's claim removed and nothing in its place", k, v)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: ""},
		{in: "10.0.0.0/8, 192.0.2.1 ,fd00::/8", want: "10.0.0.0/8 192.0.2.1/32 fd00::/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},          // host bits ignored, as nginx does
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"}, // matched against unmapped addresses
		{in: "::ffff:192.0.2.1", want: "192.0.2.1/32"},  // likewise
		{in: "10.0.0.0/33", err: `"10.0.0.0/33" is not a CIDR`},
		{in: "proxy.example", err: `"proxy.example" is not an IP address or CIDR`},
		{in: "fe80::1%eth0", err: `"fe80::1%eth0" is not an IP address or CIDR`},
		{in: "1.2.3.4, x, y/1", err: `"x" is not an IP address or CIDR` + "\n" + `"y/1" is not a CIDR`},
	} {
		got, err := ParseTrustedProxies(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, " ") != tc.want {
			t.Errorf("%q: got %v, %v; want %s", tc.in, s, err, tc.want)
		}
	}
}

// BenchmarkUpstreamHeader measures the header work of one request:
// untrusted with the usual fields, and trusted behind two proxies.
func BenchmarkUpstreamHeader(b *testing.B) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8")
	for _, tc := range []forwardingCase{
		{name: "untrusted", peer: "198.51.100.1:5000"},
		{name: "trusted", peer: "10.0.0.2:5000", send: map[string][]string{"X-Forwarded-For": {"203.0.113.7, 10.0.0.5"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, _ := forwardCase(trusted, tc)
			p := New[struct{}](nil, Options{TrustedProxies: trusted})
			s.Request.Header.Set("User-Agent", "bench")
			s.Request.Header.Set("Accept", "*/*")
			var h Header
			b.ReportAllocs()
			for b.Loop() {
				s.resolveClient(trusted)
				p.upstreamFields(s, SchemeHTTP1, &h)
			}
		})
	}
}

// A Session reused for several requests (an exchange's, over one
// connection or, pooled, over the next) resolves each request's own peer,
// whatever the previous one was.
func TestReusedSessionResolvesEachPeer(t *testing.T) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8")
	peers := []string{
		"198.51.100.1:5000", "198.51.100.1:5000", "10.0.0.2:5000", "[2001:db8::1]:443",
		"@", "", "[fe80::1%eth0]:80", "[::ffff:192.0.2.1]:1", "198.51.100.1:5000", "not an address",
	}
	reused := &Session{}
	for i := range 3 * len(peers) {
		peer := peers[(i*7)%len(peers)]
		r, _ := http.NewRequest("GET", "http://shop.example/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		fresh := &Session{Request: r}
		fresh.resolveClient(trusted)
		reused.Request, reused.origin, reused.ClientAddr = r, origin{}, netip.Addr{}
		reused.resolveClient(trusted)
		if reused.ClientAddr != fresh.ClientAddr || reused.origin != fresh.origin {
			t.Errorf("peer %q after %q: reused session %v %+v, fresh %v %+v",
				peer, peers[((i-1)*7+len(peers))%len(peers)], reused.ClientAddr, reused.origin, fresh.ClientAddr, fresh.origin)
		}
	}
}

// addrPortWriter is a ResponseWriter that tells the client's address, as
// pkg/dataplane/server's does for a handler that reads no RemoteAddr.
type addrPortWriter struct {
	http.ResponseWriter
	ap netip.AddrPort
}

func (w addrPortWriter) RemoteAddrPort() netip.AddrPort { return w.ap }

// A request whose RemoteAddr the server left empty resolves to the
// client the server tells, as it would from RemoteAddr (TCPAddr.String,
// what the server formats), whichever form the reused Session resolved
// before; a RemoteAddr set (by a handler in front, say) still counts.
func TestServerAddressResolvesAsRemoteAddr(t *testing.T) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8")
	addrs := []*net.TCPAddr{
		{IP: net.IPv4(198, 51, 100, 1), Port: 5000}, {IP: net.IPv4(10, 0, 0, 2), Port: 5000},
		{IP: net.ParseIP("2001:db8::1"), Port: 443}, {IP: net.ParseIP("fe80::1"), Port: 80, Zone: "eth0"},
		{IP: net.IPv4(198, 51, 100, 1), Port: 5001},
	}
	reused := &Session{}
	for i := range 4 * len(addrs) {
		a := addrs[(i*3)%len(addrs)]
		ap := a.AddrPort()
		w := addrPortWriter{ap: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}
		r, _ := http.NewRequest("GET", "http://shop.example/", nil)
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		r.RemoteAddr = a.String()
		fresh := &Session{Request: r}
		fresh.resolveClient(trusted)
		if i%2 == 0 {
			r.RemoteAddr = ""
		}
		reused.Request, reused.Writer, reused.origin, reused.ClientAddr = r, w, origin{}, netip.Addr{}
		reused.resolveClient(trusted)
		if reused.ClientAddr != fresh.ClientAddr || reused.origin != fresh.origin || !fresh.ClientAddr.IsValid() {
			t.Errorf("%v (RemoteAddr %q): %v %+v, from RemoteAddr %v %+v", a, r.RemoteAddr, reused.ClientAddr, reused.origin, fresh.ClientAddr, fresh.origin)
		}
	}
	// Without the server's address nor RemoteAddr there is no peer.
	r, _ := http.NewRequest("GET", "http://shop.example/", nil)
	s := &Session{Request: r, Writer: addrPortWriter{}}
	if s.resolveClient(trusted); s.origin != (origin{}) || s.ClientAddr.IsValid() {
		t.Errorf("no address: %v %+v", s.ClientAddr, s.origin)
	}
}
