package router

import (
	"errors"
	"fmt"
	"strings"
)

// maxHostLen is the longest DNS name (RFC 1035). A longer Host cannot be
// any virtual host's name, so it is served by the catch-all host; the bound
// also sizes the stack buffer hosts are lower-cased into.
const maxHostLen = 253

// maxLabelLen is the longest DNS label.
const maxLabelLen = 63

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

// normaliseHostName lower-cases name (ASCII only, like matching does) and
// checks that it is a DNS name (labels of letters, digits, '-' and '_') or
// a wildcard "*." followed by one. Names are compared byte for byte on the
// hot path, so anything else could never match as its author meant.
func normaliseHostName(name string) (string, error) {
	name = asciiLower(name)
	if len(name) > maxHostLen {
		return "", fmt.Errorf("host %q is longer than %d characters", name, maxHostLen)
	}
	for label := range strings.SplitSeq(strings.TrimPrefix(name, "*."), ".") {
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("host %q: %w", name, err)
		}
	}
	return name, nil
}

func checkLabel(label string) error {
	if label == "" || len(label) > maxLabelLen {
		return fmt.Errorf("every label must have 1 to %d characters", maxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		switch c := label[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '*':
			return errors.New("a wildcard must be the whole first label, as in *.example.com")
		default:
			return fmt.Errorf("character %q is not allowed in a host name", c)
		}
	}
	return nil
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
