package router

import (
	"net/textproto"
	"net/url"
	"regexp"
	"strings"

	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
)

// request is what routing reads of a request. Its fields are in fields
// when set (the proxy's view), else in header.
type request struct {
	host, path, method, rawQuery string
	fields                       *proxy.RequestHeader // nil: none (Match)
}

// values appends to dst the values of the fields named key, in order.
func (r *request) values(dst []string, key string) []string {
	if r.fields == nil {
		return dst
	}
	return r.fields.AppendValues(dst, key)
}

// candidate is one compiled route: what it asks of a request besides its
// path, and where it sends the request.
type candidate struct {
	match Match
	// plain: no method, header or query matcher, so the path decides.
	plain   bool
	method  string
	headers []headerMatcher
	query   []queryMatcher
	// split chooses among weighted backends; nil when the route has at
	// most one backend of weight above 0 (match.Upstream is then final).
	split *splitter
}

// candidates share a path and are sorted by precedence: the first one
// that accepts a request wins.
type candidates []candidate

func (cs candidates) pick(req *request) (Match, bool) {
	for i := range cs {
		if c := &cs[i]; c.plain || c.accepts(req) {
			return c.resolve(), true
		}
	}
	return Match{}, false
}

func (c *candidate) accepts(req *request) bool {
	if c.method != "" && c.method != req.method {
		return false
	}
	for i := range c.headers {
		if !c.headers[i].matches(req) {
			return false
		}
	}
	for i := range c.query {
		if !c.query[i].matches(req.rawQuery) {
			return false
		}
	}
	return true
}

func (c *candidate) resolve() Match {
	if c.split == nil {
		return c.match
	}
	m := c.match
	m.Upstream = c.split.next()
	return m
}

// outranks orders candidates of one path as snapshot.Route documents:
// a method first, then more headers, then more query parameters, then
// the lower Order.
func (c *candidate) outranks(o *candidate) bool {
	if (c.method != "") != (o.method != "") {
		return c.method != ""
	}
	if len(c.headers) != len(o.headers) {
		return len(c.headers) > len(o.headers)
	}
	if len(c.query) != len(o.query) {
		return len(c.query) > len(o.query)
	}
	return c.match.Route.Order < o.match.Route.Order
}

// compileCandidate builds the matchers of r; the snapshot rules (see
// snapshot.CheckRoute) were applied before.
func compileCandidate(r *snapshot.Route, m Match) (candidate, error) {
	c := candidate{match: m, method: r.Method}
	seen := map[string]bool{}
	for _, h := range r.Headers {
		key := textproto.CanonicalMIMEHeaderKey(h.Name)
		if seen[key] {
			continue // Gateway API: a later match of the same name is ignored
		}
		seen[key] = true
		hm := headerMatcher{key: key, value: h.Value, sep: ","}
		if key == "Cookie" {
			hm.sep = "; " // how HTTP/2 says split cookies join (RFC 9113 8.2.3)
		}
		if err := compileValue(h.Regex, h.Value, &hm.re); err != nil {
			return c, err
		}
		c.headers = append(c.headers, hm)
	}
	clear(seen)
	for _, q := range r.QueryParams {
		if seen[q.Name] {
			continue
		}
		seen[q.Name] = true
		qm := queryMatcher{name: q.Name, value: q.Value}
		if err := compileValue(q.Regex, q.Value, &qm.re); err != nil {
			return c, err
		}
		c.query = append(c.query, qm)
	}
	c.plain = c.method == "" && len(c.headers) == 0 && len(c.query) == 0
	return c, nil
}

func compileValue(isRegex bool, value string, re **regexp.Regexp) error {
	if !isRegex {
		return nil
	}
	var err error
	*re, err = snapshot.CompileRegex(value)
	return err
}

// headerMatcher matches one request header. A header sent more than once
// is matched as one value, its values joined by commas (RFC 9110 section
// 5.3, as Envoy matches them), cookies by "; ".
type headerMatcher struct {
	key   string // canonical, as http.Header keys are
	value string
	re    *regexp.Regexp // nil: value must be equal
	sep   string
}

func (h *headerMatcher) matches(req *request) bool {
	var buf [4]string // a field sent up to 4 times is gathered here, on the stack
	vs := req.values(buf[:0], h.key)
	switch {
	case len(vs) == 0:
		return false
	case len(vs) == 1 && h.re != nil:
		return h.re.MatchString(vs[0])
	case len(vs) == 1:
		return vs[0] == h.value
	case h.re != nil:
		return h.re.MatchString(strings.Join(vs, h.sep))
	}
	return joinedEquals(vs, h.sep, h.value)
}

// joinedEquals reports strings.Join(vs, sep) == want without joining.
func joinedEquals(vs []string, sep, want string) bool {
	for i, v := range vs {
		if i > 0 {
			rest, ok := strings.CutPrefix(want, sep)
			if !ok {
				return false
			}
			want = rest
		}
		rest, ok := strings.CutPrefix(want, v)
		if !ok {
			return false
		}
		want = rest
	}
	return want == ""
}

// queryMatcher matches the first value of one query parameter, as Gateway
// API recommends for a repeated one. Names and values are compared
// decoded, as url.ParseQuery decodes them ('+' is a space); the name with
// its case.
type queryMatcher struct {
	name, value string
	re          *regexp.Regexp // nil: value must be equal
}

func (q *queryMatcher) matches(rawQuery string) bool {
	v, ok := firstQueryValue(rawQuery, q.name)
	if !ok {
		return false
	}
	if q.re != nil {
		return q.re.MatchString(v)
	}
	return v == q.value
}

// firstQueryValue scans a raw query for name's first value. It allocates
// only to decode a name or value that is escaped; a pair that does not
// decode is skipped, as url.ParseQuery skips it.
func firstQueryValue(raw, name string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, value, _ := strings.Cut(pair, "=")
		if k, ok := unescapeQuery(key); !ok || k != name {
			continue
		}
		if v, ok := unescapeQuery(value); ok {
			return v, true
		}
	}
	return "", false
}

func unescapeQuery(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}
