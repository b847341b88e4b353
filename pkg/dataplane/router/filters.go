package router

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// applyRoutePolicy hands the proxy what the matched route asks of every
// attempt: the request's deadline (counted from its arrival, so retries
// and their backoff are inside it), the per-attempt timeout and the retry
// policy. Routes without them cost nothing here.
func applyRoutePolicy(s *proxy.Session, rt *snapshot.Route) {
	if d := rt.Timeouts.Request; d > 0 {
		s.Deadline = s.Start.Add(d)
	}
	if d := rt.Timeouts.BackendRequest; d > 0 {
		s.AttemptTimeout = d
	}
	if r := rt.Retry; r != nil && r.Attempts > 1 && len(r.Codes) > 0 {
		s.Retry = &proxy.RetryPolicy{Attempts: r.Attempts, Statuses: r.Codes, Backoff: r.Backoff}
	}
}

// applyRequestFilters rewrites the upstream request as the route asks:
// Host and path (URLRewrite), then header edits. The header edits see
// the request as the client sent it, so they may set Host-independent
// headers whatever the rewrite did.
func applyRequestFilters(req *proxy.Request, rt *snapshot.Route, f *snapshot.RouteFilters) {
	if rw := f.Rewrite; rw != nil {
		if rw.Hostname != "" {
			req.Host = rw.Hostname
		}
		if rw.Path != nil {
			req.URL.Path = modifyPath(req.URL.Path, rt, rw.Path)
			req.URL.RawPath = "" // re-escaped from Path
		}
	}
	editHeaders(fieldsHeader{&req.Header}, &f.RequestHeaders)
}

// editableHeader is what editHeaders needs of a header: the upstream
// request's and the response's fields (fieldsHeader) and a mirror's map
// (requestHeader) share one implementation of the edits.
type editableHeader interface {
	Del(name string)
	Set(name, value string)
	Add(name, value string)
	// Append adds value to the field's last value, comma-separated, or
	// adds the field when it is absent.
	Append(name, value string)
}

// editHeaders applies e to h: Remove, then Set, then Add. Names compare
// without case. Gateway API allows one action per name, so the order
// only matters to Ingress annotations, which share the Upstream's order.
func editHeaders(h editableHeader, e *snapshot.HeaderEdits) {
	for _, name := range e.Remove {
		h.Del(name)
	}
	for _, x := range e.Set {
		h.Set(x.Name, x.Value)
	}
	for _, x := range e.Add {
		appendHeader(h, x)
	}
}

// appendHeader appends x.Value to the header's existing value, comma
// separated, as Gateway API's Add does ("my-header: foo" plus "bar" is
// "my-header: foo,bar"); the header is created if absent. Set-Cookie is
// the one field whose values cannot be joined (RFC 9110 §5.3), so it
// gets a field line of its own.
func appendHeader(h editableHeader, x snapshot.Header) {
	if strings.EqualFold(x.Name, "Set-Cookie") {
		h.Add(x.Name, x.Value)
		return
	}
	h.Append(x.Name, x.Value)
}

// requestHeader is a mirror's header map as the edits change it: keyed
// canonically, as http.Header's methods key it.
type requestHeader http.Header

func (h requestHeader) Del(name string)        { http.Header(h).Del(name) }
func (h requestHeader) Set(name, value string) { http.Header(h).Set(name, value) }
func (h requestHeader) Add(name, value string) { http.Header(h).Add(name, value) }

// Append joins value to the last value in place: the map is the
// mirror's own copy, its values its own to replace.
func (h requestHeader) Append(name, value string) {
	key := http.CanonicalHeaderKey(name)
	vv := h[key]
	if len(vv) == 0 {
		h[key] = append(vv, value)
		return
	}
	vv[len(vv)-1] += "," + value
}

// fieldsHeader is a request's or a response's fields as the edits change
// them. The names it adds are canonical, as an http.Header's keys would
// be: the names a route configures are sent as they are over HTTP/1.
type fieldsHeader struct{ h *proxy.Header }

func (r fieldsHeader) Del(name string) { r.h.Del(name) }
func (r fieldsHeader) Set(name, value string) {
	r.h.Set(textproto.CanonicalMIMEHeaderKey(name), value)
}
func (r fieldsHeader) Add(name, value string) {
	r.h.Add(textproto.CanonicalMIMEHeaderKey(name), value)
}
func (r fieldsHeader) Append(name, value string) {
	r.h.Append(textproto.CanonicalMIMEHeaderKey(name), value)
}

// modifyPath is path p changed by pm. ReplacePrefixMatch replaces the part
// of p the route's Prefix matched, by whole path elements: the route's
// and the replacement's trailing slashes do not count, and an empty result
// is "/" (the table in Gateway API's HTTPPathModifier).
func modifyPath(p string, rt *snapshot.Route, pm *snapshot.PathModifier) string {
	if pm.Type == snapshot.ReplaceFullPath {
		return pm.Value
	}
	prefix := strings.TrimSuffix(rt.Path, "/")
	if rt.PathType != snapshot.PathPrefix || !strings.HasPrefix(p, prefix) {
		return p // the validator refuses this; leave the path alone
	}
	out := strings.TrimSuffix(pm.Value, "/") + p[len(prefix):]
	if out == "" {
		return "/"
	}
	return out
}
