package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream is a group of backends and how Baton talks to them. An Ingress
// selects one with backend.resource {apiGroup: baton.dev, kind: Upstream,
// name: ...} in its own namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bup,categories=baton
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Endpoints",type=string,JSONPath=`.status.endpoints`,description="ready/total endpoints"
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.loadBalancing.policy`
// +kubebuilder:printcolumn:name="Protocol",type=string,JSONPath=`.spec.protocol`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Upstream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   UpstreamSpec   `json:"spec"`
	Status UpstreamStatus `json:"status,omitempty"`
}

// UpstreamList is a list of Upstreams.
//
// +kubebuilder:object:root=true
type UpstreamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Upstream `json:"items"`
}

// UpstreamSpec is the desired state of an Upstream. Exactly one of
// endpoints and serviceRef names the backends.
//
// +kubebuilder:validation:XValidation:rule="has(self.endpoints) != has(self.serviceRef)",message="exactly one of endpoints or serviceRef must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || (has(self.protocol) && self.protocol == 'HTTPS')",message="tls is only allowed with protocol HTTPS"
// +kubebuilder:validation:XValidation:rule="!has(self.healthCheck) || !has(self.healthCheck.active) || !has(self.healthCheck.active.grpc) || (has(self.protocol) && self.protocol != 'HTTP/1.1')",message="gRPC health checks need protocol H2C or HTTPS"
type UpstreamSpec struct {
	// Endpoints are static backend addresses.
	//
	// +optional
	// +listType=map
	// +listMapKey=address
	// +listMapKey=port
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	Endpoints []StaticEndpoint `json:"endpoints,omitempty"`

	// ServiceRef selects a Service in the Upstream's namespace; its ready
	// endpoints, found through EndpointSlices, are the backends.
	//
	// +optional
	ServiceRef *ServiceRef `json:"serviceRef,omitempty"`

	// LoadBalancing chooses how a backend is picked for each request.
	//
	// +optional
	// +kubebuilder:default={}
	LoadBalancing LoadBalancing `json:"loadBalancing,omitempty"`

	// Protocol is what Baton speaks to the backends.
	//
	// +optional
	// +kubebuilder:default="HTTP/1.1"
	Protocol Protocol `json:"protocol,omitempty"`

	// TLS configures protocol HTTPS. Without it the backend certificate is
	// verified against the system roots and the Host of the request.
	//
	// +optional
	TLS *UpstreamTLS `json:"tls,omitempty"`

	// HostRewrite replaces the Host header sent to the backends.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=259
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$`
	HostRewrite string `json:"hostRewrite,omitempty"`

	// RequestHeaders edits the request headers sent to the backends.
	//
	// +optional
	RequestHeaders *HeaderEdits `json:"requestHeaders,omitempty"`

	// Timeouts for the backend side of a request; an unset timeout means
	// Baton's default.
	//
	// +optional
	Timeouts *Timeouts `json:"timeouts,omitempty"`

	// Retries is how many other backends a request may be tried on after a
	// failure that is safe to retry.
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	Retries int32 `json:"retries,omitempty"`

	// HealthCheck configures active and passive health checking.
	//
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
}

// StaticEndpoint is one backend address.
type StaticEndpoint struct {
	// Address is an IPv4 or IPv6 address. Unspecified, multicast,
	// broadcast and link-local addresses are refused: none is a backend,
	// and 169.254.169.254 is the cloud metadata service. Baton also refuses
	// loopback addresses unless it runs with
	// --allow-loopback-upstream-endpoints (for development), which the
	// schema cannot know.
	//
	// +required
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="address must be an IP address"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || ip(self).isGlobalUnicast() || ip(self).isLoopback()",message="address must be a unicast address that is not link-local: unspecified, multicast, broadcast and link-local (169.254.0.0/16, fe80::/10) addresses are refused"
	Address string `json:"address"`

	// Port is the backend's TCP port.
	//
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// Weight is this endpoint's share under WeightedRoundRobin.
	//
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Weight int32 `json:"weight,omitempty"`
}

// ServiceRef names a Service port in the Upstream's namespace.
type ServiceRef struct {
	// Name of the Service.
	//
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Port of the Service, by number or by name.
	//
	// +required
	Port ServicePort `json:"port"`
}

// ServicePort selects a Service port by number or by name, like an Ingress
// backend does.
//
// +kubebuilder:validation:XValidation:rule="has(self.number) != has(self.name)",message="exactly one of number or name must be set"
type ServicePort struct {
	// Number is the Service port number (spec.ports[].port).
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Number int32 `json:"number,omitempty"`

	// Name is the Service port name (spec.ports[].name).
	//
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`
}

// LoadBalancing chooses the backend for each request.
type LoadBalancing struct {
	// Policy is the selection algorithm.
	//
	// +optional
	// +kubebuilder:default=RoundRobin
	Policy Policy `json:"policy,omitempty"`
}

// Policy is a load-balancing algorithm.
//
// +kubebuilder:validation:Enum=RoundRobin;WeightedRoundRobin;LeastRequest
type Policy string

const (
	// PolicyRoundRobin takes the backends in turn.
	PolicyRoundRobin Policy = "RoundRobin"
	// PolicyWeightedRoundRobin takes the backends in turn, in proportion to
	// their weights.
	PolicyWeightedRoundRobin Policy = "WeightedRoundRobin"
	// PolicyLeastRequest prefers the backend with the fewest requests in
	// flight.
	PolicyLeastRequest Policy = "LeastRequest"
)

// Protocol is what Baton speaks to an upstream.
//
// +kubebuilder:validation:Enum="HTTP/1.1";H2C;HTTPS
type Protocol string

const (
	// ProtocolHTTP1 is plain-text HTTP/1.1.
	ProtocolHTTP1 Protocol = "HTTP/1.1"
	// ProtocolH2C is plain-text HTTP/2 with prior knowledge.
	ProtocolH2C Protocol = "H2C"
	// ProtocolHTTPS is TLS, with HTTP/2 or HTTP/1.1 chosen by ALPN.
	ProtocolHTTPS Protocol = "HTTPS"
)

// UpstreamTLS configures HTTPS to the backends.
type UpstreamTLS struct {
	// ServerName is sent as SNI and checked against the backend
	// certificate. Empty means the Host of the request after hostRewrite.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$`
	ServerName string `json:"serverName,omitempty"`

	// InsecureSkipVerify turns certificate verification off.
	//
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// CASecretRef names a Secret in the Upstream's namespace whose PEM
	// certificates replace the system roots.
	//
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
}

// SecretKeyRef names one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	//
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`

	// Key in the Secret's data.
	//
	// +optional
	// +kubebuilder:default="ca.crt"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// HeaderEdits change request headers, applied in the order remove, set, add.
type HeaderEdits struct {
	// Set replaces the header's values.
	//
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Set []Header `json:"set,omitempty"`

	// Add appends a value, keeping the ones already present.
	//
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Add []Header `json:"add,omitempty"`

	// Remove deletes the headers with these names.
	//
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
	Remove []string `json:"remove,omitempty"`
}

// Header is an HTTP header name and value.
type Header struct {
	// Name is an HTTP header field name.
	//
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
	Name string `json:"name"`

	// Value may not contain CR, LF or NUL.
	//
	// +required
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^[^\x00\r\n]*$`
	Value string `json:"value"`
}

// Timeouts for the backend side of a request, as Go durations limited to
// h, m, s and ms units (for example "1m30s").
type Timeouts struct {
	// Connect bounds establishing a connection, TLS handshake included.
	//
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	Connect *metav1.Duration `json:"connect,omitempty"`

	// Response bounds the wait for the response headers.
	//
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	Response *metav1.Duration `json:"response,omitempty"`

	// Idle bounds how long an unused pooled connection is kept.
	//
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	Idle *metav1.Duration `json:"idle,omitempty"`

	// Read bounds the wait for each read of the response body once the
	// headers arrived (nginx's proxy_read_timeout): the time between two
	// successful reads, not the whole body. When it passes, the response
	// is cut and the connection closed. It also ends a WebSocket (or other
	// upgraded) connection through which nothing went either way for that
	// long, instead of the controller's --tunnel-idle-timeout. Unset: the
	// controller's --upstream-read-timeout.
	//
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	Read *metav1.Duration `json:"read,omitempty"`
}

// HealthCheck configures how unhealthy backends are found and skipped.
type HealthCheck struct {
	// Active sends periodic HTTP or gRPC health checks to every backend.
	//
	// +optional
	Active *ActiveHealthCheck `json:"active,omitempty"`

	// Passive ejects a backend after consecutive failed requests.
	//
	// +optional
	Passive *PassiveHealthCheck `json:"passive,omitempty"`
}

// ActiveHealthCheck is a request sent to every backend, in the Upstream's
// protocol: an HTTP GET to Path, where a 2xx or 3xx answer within Timeout
// is a success, or a gRPC health check, where SERVING is.
//
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || !has(self.interval) || duration(self.timeout) <= duration(self.interval)",message="timeout must not exceed interval"
// +kubebuilder:validation:XValidation:rule="has(self.path) != has(self.grpc)",message="exactly one of path or grpc must be set"
type ActiveHealthCheck struct {
	// Path is the request path of an HTTP check, query allowed.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[^\s#]*$`
	Path string `json:"path,omitempty"`

	// GRPC makes the check a grpc.health.v1.Health/Check call instead of an
	// HTTP GET. It needs protocol H2C or HTTPS.
	//
	// +optional
	GRPC *GRPCHealthCheck `json:"grpc,omitempty"`

	// Interval between checks of one backend.
	//
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout of one check.
	//
	// +optional
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// HealthyThreshold is how many successes in a row mark a backend
	// healthy again.
	//
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	HealthyThreshold int32 `json:"healthyThreshold,omitempty"`

	// UnhealthyThreshold is how many failures in a row mark a backend
	// unhealthy.
	//
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	UnhealthyThreshold int32 `json:"unhealthyThreshold,omitempty"`
}

// GRPCHealthCheck is a call of the standard gRPC health service.
type GRPCHealthCheck struct {
	// Service is the service name asked about; empty asks about the server
	// as a whole.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[!-~]*$`
	Service string `json:"service,omitempty"`
}

// PassiveHealthCheck ejects a backend from the pool after
// ConsecutiveFailures failed requests, for EjectDuration.
type PassiveHealthCheck struct {
	// ConsecutiveFailures before ejection; unset means Baton's default.
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`

	// EjectDuration is how long an ejected backend is skipped.
	//
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	EjectDuration *metav1.Duration `json:"ejectDuration,omitempty"`

	// FailingResponses says which responses count as failed requests.
	// Connection failures, resets and timeouts always do. Without a passive
	// section only those count.
	//
	// +optional
	// +kubebuilder:default=ServerErrors
	FailingResponses FailingResponses `json:"failingResponses,omitempty"`
}

// FailingResponses names the backend responses passive health counts as
// failed requests.
//
// +kubebuilder:validation:Enum=ServerErrors;GatewayErrors;None
type FailingResponses string

const (
	// FailingResponsesServerErrors counts every 5xx (Envoy's
	// consecutive_5xx).
	FailingResponsesServerErrors FailingResponses = "ServerErrors"
	// FailingResponsesGatewayErrors counts 502, 503 and 504 (Envoy's
	// consecutive_gateway_failure).
	FailingResponsesGatewayErrors FailingResponses = "GatewayErrors"
	// FailingResponsesNone counts no response (nginx's default).
	FailingResponsesNone FailingResponses = "None"
)

// UpstreamStatus is the observed state of an Upstream.
type UpstreamStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready and ResolvedRefs.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// ReadyEndpoints counts the endpoints requests may be sent to.
	//
	// +optional
	ReadyEndpoints int32 `json:"readyEndpoints"`

	// TotalEndpoints counts all known endpoints, ready or not.
	//
	// +optional
	TotalEndpoints int32 `json:"totalEndpoints"`

	// Endpoints is "ready/total", for kubectl get.
	//
	// +optional
	Endpoints string `json:"endpoints,omitempty"`
}

// Condition types and reasons an Upstream reports.
const (
	// ConditionReady is True when the Upstream has at least one ready
	// endpoint and every reference resolved.
	ConditionReady = "Ready"
	// ConditionResolvedRefs is True when the Service and Secret the
	// Upstream names exist and are usable.
	ConditionResolvedRefs = "ResolvedRefs"

	ReasonReady              = "Ready"
	ReasonResolved           = "Resolved"
	ReasonNoReadyEndpoints   = "NoReadyEndpoints"
	ReasonServiceNotFound    = "ServiceNotFound"
	ReasonPortNotFound       = "PortNotFound"
	ReasonUnsupportedService = "UnsupportedService"
	ReasonSecretNotFound     = "SecretNotFound"
	ReasonInvalidSecret      = "InvalidSecret"
	ReasonInvalidSpec        = "InvalidSpec"
	// ReasonForbiddenEndpoint: an endpoint address Baton does not proxy to
	// (loopback without the controller's development opt-in, link-local,
	// unspecified, multicast, broadcast).
	ReasonForbiddenEndpoint = "ForbiddenEndpoint"
)

// Defaults the CRD applies, repeated here for objects that never went
// through the API server (tests, dry runs).
const (
	DefaultCAKey              = "ca.crt"
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
	DefaultInterval           = 10 * time.Second
	DefaultCheckTimeout       = 2 * time.Second
	DefaultEjectDuration      = 30 * time.Second
	// MaxRetries is the largest spec.retries the CRD accepts (the
	// Maximum marker on Retries).
	MaxRetries = 10
)
