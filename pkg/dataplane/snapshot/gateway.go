package snapshot

import "time"

// This file holds what Gateway API brings to the routing model. Ingress
// routes leave all of it empty, and routing them is unchanged.

// Gateway is one Gateway API Gateway. A connection whose local address is
// one of Addresses is routed by this gateway's Ports only, never by the
// Ingress hosts or another gateway: that is what keeps a route attached to
// one Gateway unreachable through another.
type Gateway struct {
	// Name is "namespace/name".
	Name string
	// Addresses are the IP addresses assigned to the gateway, unique
	// across gateways.
	Addresses []string
	// Ports are the gateway's listeners merged by port, sorted by Port.
	Ports []GatewayPort
}

// GatewayPort is what a gateway serves on one port: the routes of every
// listener on that port, merged by host name. A request on a gateway
// address whose host matches none of Hosts gets 404. Hosts are selected
// as Snapshot.Hosts are, except that "*.example.com" covers any number of
// labels before "example.com" (Gateway API hostnames), and a selected host
// is final: put a wildcard's routes into a more specific host too if
// requests for it should fall back to them.
type GatewayPort struct {
	Port int
	// TLS terminates TLS with Certificates, chosen by SNI as
	// Snapshot.Certificates are (HTTPS listeners), except that a wildcard
	// covers any number of labels (as a Gateway API hostname does) and a
	// name none covers gets the first of Certificates.
	TLS          bool
	Hosts        []VirtualHost
	Certificates []Certificate
}

// HeaderMatch matches one request header. Regex is an RE2 expression that
// must match the whole value; otherwise Value must equal it.
type HeaderMatch struct {
	Name  string
	Value string
	Regex bool
}

// QueryMatch matches one query parameter, as HeaderMatch does a header.
type QueryMatch struct {
	Name  string
	Value string
	Regex bool
}

// WeightedBackend is one of a route's weighted backends.
type WeightedBackend struct {
	// Upstream is the Name of an entry in Snapshot.Upstreams; empty when
	// Invalid.
	Upstream string
	Weight   int
	// Invalid stands for a backendRef that cannot be resolved: its share
	// of the requests is answered with 500 while the other backends serve
	// theirs, as Gateway API asks of a partly invalid rule.
	Invalid bool `json:",omitempty"` // omitted: dumps and golden tests stay as they were
}

// RouteFilters change a request on its way, or answer it. They apply in
// this order: Redirect (which answers, and ends the request), then
// RequestHeaders and Rewrite on the upstream request, ResponseHeaders on
// the response; Mirrors get a copy of the request whose responses are
// dropped.
type RouteFilters struct {
	RequestHeaders  HeaderEdits
	ResponseHeaders HeaderEdits
	Redirect        *Redirect
	Rewrite         *Rewrite
	// Mirrors are Names of entries in Snapshot.Upstreams.
	Mirrors []string
}

// Redirect answers with a redirect. Empty fields keep the request's own
// scheme, host and path. Port 0 means the default port of the resulting
// scheme when Scheme is set (so no port in Location), else the request's
// port. StatusCode is 301, 302, 303, 307 or 308 (0 means 302).
type Redirect struct {
	Scheme     string
	Hostname   string
	Port       int
	Path       *PathModifier
	StatusCode int
	// InsecureOnly redirects only the requests that arrived without TLS;
	// the others go on to the route's upstream. Ingress's ssl-redirect
	// needs it: one Ingress route serves both the HTTP and HTTPS ports.
	InsecureOnly bool
}

// Rewrite changes the upstream request's Host and path.
type Rewrite struct {
	Hostname string
	Path     *PathModifier
}

// PathModifierType says how a PathModifier changes a path.
type PathModifierType uint8

const (
	// ReplaceFullPath replaces the whole path with Value.
	ReplaceFullPath PathModifierType = iota
	// ReplacePrefixMatch replaces the part of the path the route's Prefix
	// matched with Value (the route must be a Prefix route).
	ReplacePrefixMatch
)

// PathModifier is a path rewrite of a Redirect or Rewrite.
type PathModifier struct {
	Type  PathModifierType
	Value string
}

// RouteTimeouts bound a route's requests (Gateway API HTTPRouteTimeouts).
type RouteTimeouts struct {
	// Request bounds the whole request, retries included: 504 when over.
	Request time.Duration
	// BackendRequest bounds each attempt on an upstream.
	BackendRequest time.Duration
}

// RouteRetry retries responses with one of Codes on another attempt, up to
// Attempts attempts in all, Backoff apart.
type RouteRetry struct {
	Attempts int
	Codes    []int
	Backoff  time.Duration
}

// RedirectOnly tells whether r answers every request with its redirect, so
// that it needs no upstream: Gateway API allows a rule with a
// RequestRedirect filter and no backendRefs. An InsecureOnly redirect
// passes TLS requests on, so it needs one.
func RedirectOnly(r *Route) bool {
	return r.Upstream == "" && len(r.Backends) == 0 && r.Filters != nil &&
		r.Filters.Redirect != nil && !r.Filters.Redirect.InsecureOnly
}
