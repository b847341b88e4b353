package router

import (
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// maxHostLen is the longest DNS name (RFC 1035). A longer Host cannot be
// any virtual host's name, so it is served by the catch-all host; the bound
// also sizes the stack buffer hosts are lower-cased into.
const maxHostLen = snapshot.MaxHostLen

// hostKey writes the form of a Host header or SNI name that is compared
// with virtual host names into buf: port and IPv6 brackets removed, ASCII
// lower-cased, one trailing dot (a fully qualified name) dropped. ok is
// false when the name is too long to be a DNS name. It does not allocate
// as long as the caller keeps the result on its stack.
func hostKey(buf *[maxHostLen]byte, host string) (key []byte, ok bool) {
	host = strings.TrimSuffix(hostWithoutPort(host), ".")
	if len(host) > maxHostLen {
		return nil, false
	}
	key = buf[:len(host)]
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		key[i] = c
	}
	return key, true
}

// hostWithoutPort returns the host part that net.SplitHostPort would
// return, or hostport itself where SplitHostPort fails (a Host without a
// port), minus the brackets of a bare IPv6 literal such as "[::1]". It
// mirrors SplitHostPort because that function allocates its errors.
func hostWithoutPort(hostport string) string {
	if h, ok := splitHost(hostport); ok {
		return h
	}
	if len(hostport) >= 2 && hostport[0] == '[' && hostport[len(hostport)-1] == ']' {
		return hostport[1 : len(hostport)-1]
	}
	return hostport
}

// splitHost is net.SplitHostPort without the port and without allocating.
func splitHost(hostport string) (string, bool) {
	colon := strings.LastIndexByte(hostport, ':')
	if colon < 0 {
		return "", false
	}
	host, noOpen, noClose := hostport[:colon], 0, 0
	if hostport[0] == '[' {
		end := strings.IndexByte(hostport, ']')
		if end+1 != colon { // no ']', or it is not right before the last ':'
			return "", false
		}
		host, noOpen, noClose = hostport[1:end], 1, end+1
	} else if strings.IndexByte(host, ':') >= 0 {
		return "", false // an IPv6 literal without brackets
	}
	if strings.IndexByte(hostport[noOpen:], '[') >= 0 || strings.IndexByte(hostport[noClose:], ']') >= 0 {
		return "", false
	}
	return host, true
}

// normaliseHostName is the snapshot's host rule, which producers apply
// before they emit a host: see snapshot.NormaliseHost.
func normaliseHostName(name string) (string, error) {
	return snapshot.NormaliseHost(name)
}
