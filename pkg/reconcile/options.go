package reconcile

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/baton-dev/baton/pkg/api/v1alpha1"
	"github.com/baton-dev/baton/pkg/dataplane/snapshot"
	"github.com/baton-dev/baton/pkg/reconcile/gateway"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// Sink receives every snapshot the controller builds. The data plane
// implements it; Apply must not keep a reference it mutates, because the
// controller compares the next snapshot with this one.
type Sink interface {
	Apply(*snapshot.Snapshot) error
}

// DefaultDebounce is Options.Debounce when zero: while changes keep
// arriving, rebuilds start at most once per DefaultDebounce on average
// (sooner when they are cheap: see Options.Debounce).
// A change after a quiet spell, and the next few, are rebuilt at once.
const DefaultDebounce = 20 * time.Millisecond

// DefaultStatusWritesPerSecond is Options.StatusWritesPerSecond when zero:
// client-go's own default rate for a controller, with room for bursts.
const DefaultStatusWritesPerSecond = 50

// Options configure the controller.
type Options struct {
	// ControllerName is the IngressClass spec.controller Baton answers to.
	ControllerName string
	// ClassName, when set, restricts Baton to the IngressClass of that name.
	ClassName string
	// WatchNamespace, when set, limits Ingresses, Services, EndpointSlices,
	// Secrets and Upstreams to one namespace (IngressClasses are cluster
	// scoped and always watched).
	WatchNamespace string
	// PublishStatusAddress, when set, is written to status.loadBalancer of
	// our Ingresses: IP addresses as ip, anything else as hostname.
	PublishStatusAddress []string
	// PublishService, used when PublishStatusAddress is empty, is the
	// Service whose addresses are written to our Ingresses' status.
	PublishService *types.NamespacedName
	// DefaultTLSSecret is served when no certificate matches SNI; it may
	// live outside WatchNamespace.
	DefaultTLSSecret *types.NamespacedName
	// DefaultBackendService, when set, serves requests for hosts no
	// Ingress names (it may live outside WatchNamespace); otherwise the
	// oldest rule-less Ingress's defaultBackend does.
	DefaultBackendService *translate.DefaultBackendService
	// Debounce paces rebuilds as a token bucket: after a quiet spell a
	// few rebuilds (three) may start back to back, so a handful of changes
	// are each rebuilt at once; a longer run gets a token every four
	// rebuild durations, at least every Debounce/10 and at most every
	// Debounce, each rebuild taking in every change so far, and no change
	// waits more than one Debounce. DefaultDebounce when zero.
	Debounce time.Duration
	// StatusWritesPerSecond bounds the status patches (Ingress and
	// Upstream) the status writer sends, so that publishing the status of
	// thousands of Ingresses at start-up does not flood the API server;
	// DefaultStatusWritesPerSecond when zero. Routing never waits for
	// status writes.
	StatusWritesPerSecond float64
	// AllowLoopbackEndpoints lets Upstreams and EndpointSlices name
	// loopback addresses (translate.Input.AllowLoopbackEndpoints); for
	// development only.
	AllowLoopbackEndpoints bool
	// LeaderElection, when set, lets only the holder of its Lease write
	// statuses and Events. When nil the status writer is a leader-only
	// runnable of the manager: it runs at once, or under the manager's own
	// leader election if the embedder enabled it.
	LeaderElection *LeaderElection

	// GatewayControllerName is the GatewayClass controllerName Baton
	// serves; gateway.ControllerName when empty. Gateway API is served
	// only when its CRDs are installed.
	GatewayControllerName string
	// GatewayAddressPool is where each Gateway gets its address (the data
	// plane routes a connection to a Gateway by its local address); the
	// zero Prefix assigns none, and Gateways are not Programmed.
	GatewayAddressPool netip.Prefix
	// GatewayHTTPPorts and GatewayHTTPSPorts are the ports the data plane
	// listens on without and with TLS; a Gateway listener on another port
	// is PortUnavailable.
	GatewayHTTPPorts, GatewayHTTPSPorts []int
}

func (o Options) withDefaults() (Options, error) {
	if o.ControllerName == "" {
		return o, errors.New("reconcile: Options.ControllerName is required")
	}
	if o.Debounce < 0 {
		return o, fmt.Errorf("reconcile: Options.Debounce %v is negative", o.Debounce)
	}
	if o.Debounce == 0 {
		o.Debounce = DefaultDebounce
	}
	if o.GatewayControllerName == "" {
		o.GatewayControllerName = string(gateway.ControllerName)
	}
	if o.StatusWritesPerSecond < 0 {
		return o, fmt.Errorf("reconcile: Options.StatusWritesPerSecond %v is negative", o.StatusWritesPerSecond)
	}
	if o.StatusWritesPerSecond == 0 {
		o.StatusWritesPerSecond = DefaultStatusWritesPerSecond
	}
	for _, a := range o.PublishStatusAddress {
		if a == "" {
			return o, errors.New("reconcile: Options.PublishStatusAddress has an empty entry")
		}
	}
	return o, nil
}

// publishesStatus reports whether Ingress status.loadBalancer is ours to
// write at all; without an address source Baton leaves it alone.
func (o Options) publishesStatus() bool {
	return len(o.PublishStatusAddress) > 0 || o.PublishService != nil
}

// AddToScheme registers every type the controller reads or writes: core,
// networking, discovery, coordination (leader election Leases), events,
// baton.dev/v1alpha1 and Gateway API v1.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		networkingv1.AddToScheme,
		discoveryv1.AddToScheme,
		coordinationv1.AddToScheme,
		eventsv1.AddToScheme,
		v1alpha1.AddToScheme,
		gatewayv1.Install,
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

// isIP tells addresses from host names in PublishStatusAddress.
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
