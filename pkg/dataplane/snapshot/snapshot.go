package snapshot

import "time"

// Snapshot is one complete, immutable routing configuration.
type Snapshot struct {
	// Version increases with every snapshot a producer builds; it is only
	// used for logs and metrics.
	Version uint64
	// Hosts are the virtual hosts, sorted by Name. A host named "" matches
	// any request whose host matches no other virtual host. A producer
	// that changes a few of many hosts sets them with SetHostList instead
	// (see lists.go); readers use the accessors (AllHosts, FindHost, ...),
	// which read whichever form is set.
	Hosts []VirtualHost
	// DefaultBackend serves requests that match no route. Nil means 404.
	DefaultBackend *Route
	// Upstreams are sorted by Name; routes refer to them by Name. Like
	// Hosts, they may be set as a list instead (SetUpstreamList).
	Upstreams []Upstream
	// Certificates are offered by SNI: exact names first, then wildcards.
	Certificates []Certificate
	// DefaultCertificate is offered when no certificate matches SNI.
	DefaultCertificate *Certificate
	// Gateways (Gateway API) route the connections that arrive on their
	// own addresses; Hosts, DefaultBackend and Certificates above route all
	// other connections (Ingress). Sorted by Name. See gateway.go.
	Gateways []Gateway
	// Changes, when not nil, is the producer's promise of what differs
	// from the snapshot it built before; nil means anything may differ.
	Changes *Changes

	// hostList and upstreamList are the persistent forms of Hosts and
	// Upstreams: at most one form of each is set (see CheckLists).
	hostList     HostList
	upstreamList UpstreamList
}

// Changes lists what differs between a snapshot and the one its producer
// built before, version Base, so that a data plane still holding Base
// compiles only those hosts and upstreams instead of comparing every one
// (at 30,000 hosts the comparison alone cost more than the change). Every
// host and upstream not listed must be the very same as in Base: the same
// Routes slice, an equal Upstream. A name may be listed that did not
// change, or that is in only one of the two snapshots (added or removed).
// Hosts and Upstreams must be sorted by name, as documented above: a data
// plane finds the listed ones by binary search. The DefaultBackend and
// Certificates are compared as without Changes.
// A data plane not holding Base ignores Changes, so a producer whose
// snapshot was refused, or only partly applied, must not rely on them:
// Base 0 is never trusted.
type Changes struct {
	Base      uint64
	Hosts     []string // VirtualHost names, in any order
	Upstreams []string // Upstream names, in any order
}

// VirtualHost holds the routes of one host name.
type VirtualHost struct {
	// Name is a lower-case DNS name, a wildcard such as "*.example.com", or
	// "" for the catch-all host.
	Name   string
	Routes []Route
}

// PathType is how a route's path is compared with the request path.
type PathType uint8

const (
	// PathPrefix matches by '/'-separated path elements.
	PathPrefix PathType = iota
	// PathExact matches the whole path, case-sensitively.
	PathExact
	// PathRegularExpression matches when the RE2 expression Path matches
	// the whole request path (anchored at both ends).
	PathRegularExpression
)

func (p PathType) String() string {
	switch p {
	case PathExact:
		return "Exact"
	case PathRegularExpression:
		return "RegularExpression"
	}
	return "Prefix"
}

// Route sends the requests that match PathType and Path (and Method,
// Headers and QueryParams when set) to Upstream, or to one of Backends.
//
// Among the routes of a host that match a request, the most specific one
// wins, in this order (Gateway API's HTTPRoute precedence, which Ingress
// semantics are a special case of): an Exact path; then a
// RegularExpression path, the longer expression first; then a Prefix
// path, the longer first; then a route with a Method; then more Headers;
// then more QueryParams; then the lower Order. Order is the producer's
// tie-break (Gateway API: oldest route, then namespace/name, then rule
// and match index), so the result never depends on map or slice order.
type Route struct {
	PathType PathType
	Path     string
	// Method, when not empty, must equal the request method.
	Method string
	// Headers must all match; names compare without case. As Gateway API
	// asks, of two matches of one name only the first counts. A header
	// sent more than once is matched as its values joined by ","
	// (cookies by "; ").
	Headers []HeaderMatch
	// QueryParams must all match; names compare with case, and values
	// decoded. Of two matches of one name only the first counts; of a
	// parameter sent more than once, the first value.
	QueryParams []QueryMatch
	// Order breaks ties the rules above leave; lower wins.
	Order int
	// Upstream is the Name of an entry in Snapshot.Upstreams. It is
	// ignored when Backends is not empty, and may be "" for a route that
	// only redirects (RedirectOnly).
	Upstream string
	// Backends split the route's requests by Weight (Gateway API weighted
	// backendRefs). A backend of weight 0 gets no requests; a route whose
	// weights are all 0 answers 500, as the Gateway API asks.
	Backends []WeightedBackend
	// Filters change the request or answer it; nil means none.
	Filters *RouteFilters
	// Timeouts bound the whole request and each upstream attempt; zero
	// means none beyond the upstream's own timeouts.
	Timeouts RouteTimeouts
	// Retry, when not nil, retries the responses with Codes as well as
	// the failures the upstream's Retries already covers.
	Retry *RouteRetry
	// Source names the object that declared the route ("namespace/name"),
	// for logs and metrics.
	Source string
}

// Policy selects a backend from an upstream's endpoints.
type Policy string

const (
	PolicyRoundRobin   Policy = "RoundRobin"
	PolicyWeighted     Policy = "WeightedRoundRobin"
	PolicyLeastRequest Policy = "LeastRequest"
)

// Protocol is what the proxy speaks to an upstream.
type Protocol string

const (
	ProtocolHTTP1 Protocol = "HTTP/1.1"
	ProtocolH2C   Protocol = "H2C"
	ProtocolHTTPS Protocol = "HTTPS"
)

// Upstream is a named group of endpoints and how to talk to them.
type Upstream struct {
	Name      string
	Endpoints []Endpoint
	Policy    Policy
	Protocol  Protocol
	// TLS applies when Protocol is ProtocolHTTPS.
	TLS UpstreamTLS
	// HostRewrite replaces the Host header sent upstream when not empty.
	HostRewrite    string
	RequestHeaders HeaderEdits
	Timeouts       Timeouts
	// Retries is how many other backends a request may be tried on after a
	// failure that is safe to retry.
	Retries int
	// HealthCheck enables active checks when not nil.
	HealthCheck *HealthCheck
	Passive     PassiveHealth
	// Source names the object the upstream was built from.
	Source string
}

// Endpoint is one backend address.
type Endpoint struct {
	// Address is "ip:port".
	Address string
	// Weight is used by PolicyWeighted; 0 is treated as 1.
	Weight int
}

// UpstreamTLS configures HTTPS to an upstream. Verification is on unless
// InsecureSkipVerify is set.
type UpstreamTLS struct {
	ServerName         string
	InsecureSkipVerify bool
	// CAPEM, when set, replaces the system roots.
	CAPEM []byte
}

// HeaderEdits change the request headers sent upstream, in the order
// Remove, Set, Add.
type HeaderEdits struct {
	Set    []Header
	Add    []Header
	Remove []string
}

// Header is one header name and value.
type Header struct {
	Name  string
	Value string
}

// Timeouts for the upstream side of a request; zero means the data plane's
// default.
type Timeouts struct {
	Connect  time.Duration
	Response time.Duration
	Idle     time.Duration
	Read     time.Duration // between reads of the response body; also a tunnel's idle limit
}

// HealthCheck is an active check sent to every endpoint in the upstream's
// protocol: an HTTP GET to Path, or with GRPC a gRPC health check
// (grpc.health.v1.Health/Check) of GRPCService, "" meaning the whole server.
type HealthCheck struct {
	Path               string
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	GRPC               bool
	GRPCService        string
}

// PassiveHealth ejects an endpoint after ConsecutiveFailures failed requests
// for EjectDuration. Zero ConsecutiveFailures means the data plane default.
// Connection failures and timeouts are failed requests; FailingResponses
// says which responses are too.
type PassiveHealth struct {
	ConsecutiveFailures int
	EjectDuration       time.Duration
	FailingResponses    FailingResponses
}

// FailingResponses says which response statuses from an endpoint passive
// health counts as failed requests.
type FailingResponses string

const (
	// FailingResponsesNone counts none; the empty value means this too.
	FailingResponsesNone FailingResponses = "None"
	// FailingResponsesGateway counts 502, 503 and 504.
	FailingResponsesGateway FailingResponses = "GatewayErrors"
	// FailingResponsesServer counts every 5xx.
	FailingResponsesServer FailingResponses = "ServerErrors"
)

// Certificate is a PEM certificate chain and key served for Hosts.
type Certificate struct {
	// Hosts are lower-case names or wildcards such as "*.example.com".
	Hosts   []string
	CertPEM []byte
	KeyPEM  []byte
	// Source names the Secret ("namespace/name").
	Source string
}
