package router

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// redirectOf is the route's redirect if it applies to req, else nil.
func redirectOf(rt *snapshot.Route, req *http.Request) *snapshot.Redirect {
	if rt.Filters == nil || rt.Filters.Redirect == nil {
		return nil
	}
	if rd := rt.Filters.Redirect; !rd.InsecureOnly || req.TLS == nil {
		return rd
	}
	return nil
}

// writeRedirect answers the request with the route's redirect.
func writeRedirect(s *proxy.Session, rt *snapshot.Route, rd *snapshot.Redirect) error {
	status := rd.StatusCode
	if status == 0 {
		status = http.StatusFound
	}
	h := s.Writer.Header()
	h.Set("Location", redirectLocation(s.Request, rt, rd))
	h.Set("Content-Length", "0")
	s.Writer.WriteHeader(status)
	s.Status = status
	return nil
}

// redirectLocation is the absolute URL a redirect sends the client to.
// What the redirect leaves empty comes from the request: its scheme, the
// host of its Host header, its path and query.
//
// The port follows Gateway API's rules: an explicit Port; else, when the
// scheme changes, that scheme's well-known port; else the port the client
// reached us on, which is the port of its Host header (a client that names
// none used the scheme's default). The Host header is used rather than
// the listener's socket because the client may reach the proxy through a
// port mapping (a Service's port 80 in front of a pod's 8080), and the
// redirect must name the port it can reach. Well-known ports (http 80,
// https 443) are left out of Location.
func redirectLocation(req *http.Request, rt *snapshot.Route, rd *snapshot.Redirect) string {
	scheme := rd.Scheme
	if scheme == "" {
		scheme = requestScheme(req)
	}
	host := rd.Hostname
	if host == "" {
		host = hostWithoutPort(req.Host)
	}
	port := rd.Port
	if port == 0 && rd.Scheme == "" {
		port = hostPort(req.Host)
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(bracketIPv6(host))
	if port != 0 && port != defaultPort(scheme) {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(port))
	}
	b.WriteString(redirectPath(req, rt, rd))
	if req.URL.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(req.URL.RawQuery)
	}
	return b.String()
}

func redirectPath(req *http.Request, rt *snapshot.Route, rd *snapshot.Redirect) string {
	if rd.Path == nil {
		return req.URL.EscapedPath()
	}
	u := url.URL{Path: modifyPath(req.URL.Path, rt, rd.Path)}
	return u.EscapedPath()
}

func requestScheme(req *http.Request) string {
	if req.TLS != nil {
		return "https"
	}
	return "http"
}

func defaultPort(scheme string) int {
	switch scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// hostPort is the port of a Host header, 0 if it has none.
func hostPort(hostport string) int {
	if _, ok := splitHost(hostport); !ok {
		return 0
	}
	port, err := strconv.Atoi(hostport[strings.LastIndexByte(hostport, ':')+1:])
	if err != nil || port <= 0 || port > 65535 {
		return 0
	}
	return port
}

func bracketIPv6(host string) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]"
	}
	return host
}
