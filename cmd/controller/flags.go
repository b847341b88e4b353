package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/reconcile"
	"github.com/baton-dev/baton/pkg/reconcile/translate"
)

// config is everything the command line sets.
type config struct {
	statusWritesPerSecond   float64
	kubeconfig              string
	httpAddr                string
	httpsAddr               string
	metricsAddr             string
	probeAddr               string
	ingressClass            string
	controllerName          string
	watchNamespace          string
	publishStatusAddress    string
	publishService          string
	defaultTLSSecret        string
	defaultBackendService   string
	leaderElect             bool
	leaderElectionNamespace string
	leaderElectionID        string
	leaseDuration           time.Duration
	renewDeadline           time.Duration
	retryPeriod             time.Duration
	handoffSocket           string
	handoffWait             time.Duration
	probeSocket             string
	stayAfterHandoff        bool
	gracePeriod             time.Duration
	readHeaderTimeout       time.Duration
	idleTimeout             time.Duration
	maxConnections          int
	memoryLimit             int64
	profiling               bool
	maxHeaderBytes          int
	trustedProxies          []netip.Prefix
	proxyProtocol           bool
	// allowLoopbackEndpoints lets Upstreams and EndpointSlices name
	// loopback addresses, which reach Baton's own host: development only.
	allowLoopbackEndpoints bool
	clientBodyTimeout      time.Duration
	sendTimeout            time.Duration
	upstreamReadTimeout    time.Duration
	tunnelIdleTimeout      time.Duration
	maxRequestBodyBytes    int64
	accessLog              string // stdout, stderr, off or a file path
	accessLogFormat        string
	logLevel               string
	showVersion            bool
	gateway                gatewayConfig
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("baton", flag.ContinueOnError)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "Path to a kubeconfig; in-cluster config when empty (also read from $KUBECONFIG).")
	fs.StringVar(&c.httpAddr, "http-bind-address", ":8080", "Address of the cleartext HTTP/1.1 and h2c listener; empty disables it. A comma-separated list binds each (Gateway listeners on more than one port).")
	fs.StringVar(&c.httpsAddr, "https-bind-address", ":8443", "Address of the TLS listener (HTTP/1.1 and h2 by ALPN); empty disables it. A comma-separated list binds each.")
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":10254", "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":10256", "Address of /healthz and /readyz; 0 disables it. It moves to the successor in a handoff.")
	fs.StringVar(&c.ingressClass, "ingress-class", "baton", "Name of the IngressClass this controller serves.")
	fs.StringVar(&c.controllerName, "controller-name", "baton.dev/ingress-controller", "spec.controller value of the IngressClasses this controller serves.")
	fs.StringVar(&c.watchNamespace, "watch-namespace", "", "Only watch this namespace; all namespaces when empty.")
	fs.StringVar(&c.publishStatusAddress, "publish-status-address", "", "Comma-separated IPs or hostnames written to Ingress status.loadBalancer.")
	fs.Float64Var(&c.statusWritesPerSecond, "status-writes-per-second", reconcile.DefaultStatusWritesPerSecond, "Most status patches (Ingress and Upstream) sent to the API server per second; routing never waits for them.")
	fs.StringVar(&c.publishService, "publish-service", "", "namespace/name of the Service whose load-balancer address is written to Ingress status.")
	fs.StringVar(&c.defaultTLSSecret, "default-tls-secret", "", "namespace/name of a kubernetes.io/tls Secret served when no certificate matches SNI.")
	fs.StringVar(&c.defaultBackendService, "default-backend-service", "", "namespace/name[:port] of the Service serving requests for hosts no Ingress names (first port when none is given); overrides the defaultBackend of rule-less Ingresses.")
	fs.BoolVar(&c.leaderElect, "leader-elect", false, "Elect a leader (Lease) before writing statuses and Events; every replica routes traffic regardless, and losing the Lease only pauses status writing.")
	fs.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; the pod's namespace when empty.")
	fs.StringVar(&c.leaderElectionID, "leader-election-id", "baton-leader", "Name of the leader election Lease.")
	fs.DurationVar(&c.leaseDuration, "leader-election-lease-duration", reconcile.DefaultLeaseDuration, "How long the other replicas wait after the leader's last renewal before taking the Lease.")
	fs.DurationVar(&c.renewDeadline, "leader-election-renew-deadline", reconcile.DefaultRenewDeadline, "How long the leader keeps writing statuses without a successful renewal; then it stops writing (never routing) and campaigns again.")
	fs.DurationVar(&c.retryPeriod, "leader-election-retry-period", reconcile.DefaultRetryPeriod, "Pause between attempts to acquire or renew the Lease.")
	fs.StringVar(&c.handoffSocket, "handoff-socket", "", "Unix socket used to take listening sockets from the previous process and offer them to the next; empty disables the handoff.")
	fs.DurationVar(&c.handoffWait, "handoff-wait", 0, "On SIGTERM, keep serving up to this long for a successor to take the listeners before draining (hostNetwork rollouts); 0 drains at once.")
	fs.BoolVar(&c.stayAfterHandoff, "stay-after-handoff", false, "After handing the listeners over and draining, keep running (not ready) until SIGTERM instead of exiting: in a pod, an exit restarts the container, which would take the listeners back.")
	fs.StringVar(&c.probeSocket, "probe-socket", "", "Unix socket on which this process alone answers /healthz and /readyz, for `baton probe` (exec probes in hostNetwork mode); empty disables it.")
	fs.DurationVar(&c.gracePeriod, "shutdown-grace-period", 25*time.Second, "How long in-flight requests may run after SIGTERM or a handoff.")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "Time a client has to send the request headers.")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 60*time.Second, "Time an idle keep-alive client connection is kept.")
	fs.IntVar(&c.maxConnections, "max-connections", 20000, "Client connections served at once; beyond it a connection gets 503 and is closed. 0 is unlimited.")
	fs.Int64Var(&c.memoryLimit, "memory-limit", 0, "The container's memory limit in bytes (the chart passes resources.limits.memory through the downward API); the Go runtime's soft memory limit is set to 90% of it, so garbage collection works harder before the OOM killer would act. 0 leaves the runtime's default; GOMEMLIMIT, when set, wins.")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 64<<10, "Limit on the request line and headers; beyond it 431.")
	fs.Func("trusted-proxies", "Comma-separated CIDRs or IPs of proxies and load balancers whose X-Forwarded-*, Forwarded and X-Real-IP fields and PROXY protocol headers are believed; from any other peer they are replaced by what Baton saw. Empty trusts nobody's forwarding fields.", c.setTrustedProxies)
	fs.BoolVar(&c.proxyProtocol, "proxy-protocol", false, "Require a PROXY protocol v1 or v2 header (as layer-4 cloud load balancers send) on every connection to the http and https listeners; its client address is used. A connection without one is closed.")
	fs.BoolVar(&c.allowLoopbackEndpoints, strings.TrimPrefix(translate.AllowLoopbackFlag, "--"), false,
		"Let Upstream endpoints be loopback addresses (127.0.0.0/8, ::1), which reach this host: for development only. Link-local, unspecified, multicast and broadcast addresses are refused regardless.")
	fs.DurationVar(&c.clientBodyTimeout, "client-body-timeout", proxy.DefaultClientBodyTimeout, "Longest wait for the next bytes of a request body; beyond it the upstream request is cut and the client gets 408.")
	fs.DurationVar(&c.sendTimeout, "send-timeout", proxy.DefaultSendTimeout, "Longest wait for a client to take the next bytes of its response; beyond it its connection is closed.")
	fs.DurationVar(&c.upstreamReadTimeout, "upstream-read-timeout", proxy.DefaultReadTimeout, "Longest wait for the next bytes of an upstream response body; beyond it the response is cut. An Upstream's spec.timeouts.read overrides it.")
	fs.DurationVar(&c.tunnelIdleTimeout, "tunnel-idle-timeout", proxy.DefaultTunnelIdleTimeout, "A WebSocket (or other upgraded) connection with no bytes either way for this long is closed. An Upstream's spec.timeouts.read overrides it.")
	fs.Int64Var(&c.maxRequestBodyBytes, "max-request-body-bytes", proxy.DefaultMaxRequestBodyBytes, "Largest request body; beyond it 413. 0 is unlimited.")
	fs.StringVar(&c.accessLog, "access-log", "stdout", "Where the access log goes, one line per request: stdout, stderr, off, or a file path (appended to).")
	fs.StringVar(&c.accessLogFormat, "access-log-format", "json", "Access log line format: json or text (key=value).")
	fs.StringVar(&c.logLevel, "log-level", "info", "Level of Baton's own log (JSON on stderr): debug, info, warn or error.")
	fs.BoolVar(&c.profiling, "profiling", false, "Serve Go's pprof profiles at /debug/pprof/ on the metrics and probe addresses, for finding where memory or CPU goes; they show internals and a profile costs CPU while it is taken.")
	fs.BoolVar(&c.showVersion, "version", false, "Print the version and exit.")
	c.gateway.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.showVersion {
		return c, nil
	}
	return c, c.validate()
}

func (c *config) setTrustedProxies(list string) error {
	p, err := proxy.ParseTrustedProxies(list)
	if err != nil {
		return err
	}
	c.trustedProxies = p
	return nil
}

func parseProbeFlags(args []string) (socket, path string, err error) {
	fs := flag.NewFlagSet("baton probe", flag.ContinueOnError)
	fs.StringVar(&socket, "socket", "", "The --probe-socket of the process to ask.")
	fs.StringVar(&path, "path", "/readyz", "/readyz or /healthz.")
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	if socket == "" {
		return "", "", errors.New("--socket is required")
	}
	if path != "/readyz" && path != "/healthz" {
		return "", "", fmt.Errorf("--path %q: want /readyz or /healthz", path)
	}
	return socket, path, nil
}

func (c *config) validate() error {
	var errs []error
	errs = append(errs, c.loggingErrors()...)
	if c.httpAddr == "" && c.httpsAddr == "" {
		errs = append(errs, errors.New("at least one of --http-bind-address and --https-bind-address is needed"))
	}
	for flagName, list := range map[string]string{"--http-bind-address": c.httpAddr, "--https-bind-address": c.httpsAddr} {
		if list != "" && slices.Contains(bindAddrs(list), "") {
			errs = append(errs, fmt.Errorf("%s has an empty entry", flagName))
		}
	}
	for _, a := range c.statusAddresses() {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, errors.New("--publish-status-address has an empty entry"))
		}
	}
	if (c.handoffWait > 0 || c.stayAfterHandoff) && c.handoffSocket == "" {
		errs = append(errs, errors.New("--handoff-wait and --stay-after-handoff need --handoff-socket"))
	}
	if enabled(c.probeAddr) && enabled(c.metricsAddr) && c.probeAddr == c.metricsAddr {
		errs = append(errs, errors.New("--health-probe-bind-address and --metrics-bind-address must differ"))
	}
	if c.leaseDuration <= c.renewDeadline || float64(c.renewDeadline) <= 1.2*float64(c.retryPeriod) || c.retryPeriod <= 0 {
		errs = append(errs, errors.New("--leader-election-lease-duration must exceed --leader-election-renew-deadline, which must exceed 1.2 × --leader-election-retry-period (> 0)"))
	}
	for flagName, d := range map[string]time.Duration{"--client-body-timeout": c.clientBodyTimeout, "--send-timeout": c.sendTimeout,
		"--upstream-read-timeout": c.upstreamReadTimeout, "--tunnel-idle-timeout": c.tunnelIdleTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", flagName, d))
		}
	}
	if c.memoryLimit < 0 {
		errs = append(errs, errors.New("--memory-limit must not be negative (0 is none)"))
	}
	if c.maxRequestBodyBytes < 0 {
		errs = append(errs, errors.New("--max-request-body-bytes must not be negative (0 is unlimited)"))
	}
	if c.publishStatusAddress != "" && c.publishService != "" {
		errs = append(errs, errors.New("--publish-status-address and --publish-service are exclusive"))
	}
	for flagName, v := range map[string]string{"--publish-service": c.publishService, "--default-tls-secret": c.defaultTLSSecret} {
		if _, err := namespacedName(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flagName, err))
		}
	}
	if _, err := serviceWithPort(c.defaultBackendService); err != nil {
		errs = append(errs, fmt.Errorf("--default-backend-service: %w", err))
	}
	errs = append(errs, c.gateway.err)
	return errors.Join(errs...)
}

func (c *config) statusAddresses() []string {
	if c.publishStatusAddress == "" {
		return nil
	}
	return strings.Split(c.publishStatusAddress, ",")
}

// serviceWithPort parses "namespace/name[:port]"; empty gives nil.
func serviceWithPort(v string) (*translate.DefaultBackendService, error) {
	ref, portText, hasPort := strings.Cut(v, ":")
	key, err := namespacedName(ref)
	if err != nil || key == nil {
		return nil, err
	}
	d := &translate.DefaultBackendService{Key: *key}
	if hasPort {
		port, err := strconv.ParseInt(portText, 10, 32)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("%q: the port must be a number from 1 to 65535", v)
		}
		d.Port = int32(port)
	}
	return d, nil
}

// namespacedName parses "namespace/name"; empty gives nil.
func namespacedName(v string) (*types.NamespacedName, error) {
	if v == "" {
		return nil, nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%q is not namespace/name", v)
	}
	return &types.NamespacedName{Namespace: ns, Name: name}, nil
}

func (c *config) loggingErrors() []error {
	var errs []error
	if _, ok := logLevels[c.logLevel]; !ok {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel))
	}
	if _, err := accesslog.ParseFormat(c.accessLogFormat); err != nil {
		errs = append(errs, fmt.Errorf("--access-log-format: %w", err))
	}
	if c.accessLog == "" {
		errs = append(errs, errors.New("--access-log is empty: want stdout, stderr, off or a file path"))
	}
	return errs
}
