package router

import (
	"net/http"
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
func applyRequestFilters(req *http.Request, rt *snapshot.Route, f *snapshot.RouteFilters) {
	if rw := f.Rewrite; rw != nil {
		if rw.Hostname != "" {
			req.Host = rw.Hostname
		}
		if rw.Path != nil {
			req.URL.Path = modifyPath(req.URL.Path, rt, rw.Path)
			req.URL.RawPath = "" // re-escaped from Path
		}
	}
	editHeaders(req.Header, &f.RequestHeaders)
}

// editHeaders applies e to h: Remove, then Set, then Add. Names compare
// without case (h is keyed canonically). Gateway API allows one action
// per name, so the order only matters to Ingress annotations, which share
// the Upstream's order.
func editHeaders(h http.Header, e *snapshot.HeaderEdits) {
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
func appendHeader(h http.Header, x snapshot.Header) {
	key := http.CanonicalHeaderKey(x.Name)
	vv := h[key]
	if len(vv) == 0 || key == "Set-Cookie" {
		h[key] = append(vv, x.Value)
		return
	}
	// h is the proxy's own copy (upstream request) or the upstream
	// response's header, so its values may be replaced in place.
	vv[len(vv)-1] += "," + x.Value
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
