// Command controller is Baton: a Kubernetes ingress controller whose data
// plane runs in the same process. It is the only package that wires the
// reconciler (Kubernetes side) to the data plane (no Kubernetes types).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/baton-dev/baton/pkg/dataplane"
	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
	"github.com/baton-dev/baton/pkg/dataplane/proxy"
	"github.com/baton-dev/baton/pkg/reconcile"
)

var log = ctrl.Log.WithName("baton")

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probeMain(os.Args[2:]))
	}
	cfg, err := parseFlags(os.Args[1:])
	if cfg != nil && cfg.showVersion {
		printVersion(os.Stdout)
		os.Exit(0)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baton:", err)
		os.Exit(2)
	}
	logger := setupLogging(cfg.logLevel, os.Stderr)
	if err := run(cfg, logger); err != nil {
		logger.Error("exiting", slog.Any("err", err))
		os.Exit(1)
	}
}

func run(cfg *config, logger *slog.Logger) error {
	if soft := applyMemoryLimit(cfg.memoryLimit); soft > 0 {
		logger.Info("soft memory limit set", slog.Int64("bytes", soft))
	}
	mgr, err := newManager(cfg)
	if err != nil {
		return err
	}
	accessLog, err := openAccessLog(cfg, logger)
	if err != nil {
		return err
	}
	registerLogMetrics(registry(), accessLog)
	ready := &readiness{}
	admin := adminHandler(ready, cfg.profiling)
	dpOpts := dataplaneOptions(cfg, admin, logger, accessLog)
	dp := dataplane.New(dpOpts)
	opts, err := reconcileOptions(cfg)
	if err != nil {
		return err
	}
	controller, err := reconcile.Setup(mgr, routedSink{dp, dpOpts.Observer.(*requestMetrics)}, opts)
	if err != nil {
		return fmt.Errorf("set up reconcilers: %w", err)
	}
	if err := dp.StartAdmin(); err != nil {
		return err
	}
	stopProbeSocket, err := serveProbeSocket(cfg.probeSocket, admin)
	if err != nil {
		return err
	}
	defer stopProbeSocket()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	mgrCtx, stopManager := context.WithCancel(context.Background())
	defer stopManager()
	// The manager failing drains the data plane, which then returns why.
	serveCtx, stopServing := context.WithCancelCause(context.Background())
	defer stopServing(nil)
	managerDone := make(chan error, 1)
	go func() {
		err := mgr.Start(mgrCtx)
		managerDone <- err
		if err != nil {
			err = fmt.Errorf("manager stopped: %w", err)
		}
		stopServing(err)
	}()

	if err := waitFirstSnapshot(mgrCtx, controller, managerDone, signals); err != nil {
		return err
	}
	return dp.Run(serveCtx, dataplane.RunOptions{
		Signals:          signals,
		HandoffWait:      cfg.handoffWait,
		StayAfterHandoff: cfg.stayAfterHandoff,
		Serving: func() {
			ready.serving.Store(true)
			log.Info("serving", "http", cfg.httpAddr, "https", cfg.httpsAddr)
		},
		Draining: func() { ready.draining.Store(true) },
		// No reconciling while a handed-over process waits to be killed.
		Stopped: stopManager,
	})
}

// waitFirstSnapshot blocks until the first snapshot is applied: only then
// may this process take the listeners from a predecessor or open its own,
// so no request ever meets an empty route table.
func waitFirstSnapshot(ctx context.Context, c *reconcile.Controller, managerDone <-chan error, signals <-chan os.Signal) error {
	ready := make(chan error, 1)
	go func() { ready <- c.WaitReady(ctx) }()
	select {
	case err := <-ready:
		return err
	case err := <-managerDone:
		return fmt.Errorf("manager stopped before the first snapshot: %w", err)
	case sig := <-signals:
		return fmt.Errorf("stopped by %v before serving", sig)
	}
}

func newManager(cfg *config) (ctrl.Manager, error) {
	restCfg, err := restConfig(cfg.kubeconfig)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := reconcile.AddToScheme(scheme); err != nil {
		return nil, err
	}
	opts := ctrl.Options{
		Scheme: scheme,
		// Probes and metrics are served by the data plane (admin.go).
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// No LeaderElection: losing the manager's Lease stops the manager,
		// and with it the data plane. --leader-elect is Baton's own
		// election, around the status writer only (reconcileOptions).
	}
	if cfg.watchNamespace != "" {
		opts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{cfg.watchNamespace: {}}}
	}
	mgr, err := ctrl.NewManager(restCfg, opts)
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	return mgr, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return ctrl.GetConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

func dataplaneOptions(cfg *config, admin http.Handler, logger *slog.Logger, accessLog *accesslog.Logger) dataplane.Options {
	proxyOpts := proxyOptions(cfg)
	proxyOpts.OnPanic = newPanicCounter(registry())
	proxyOpts.TrustedProxies = cfg.trustedProxies
	return dataplane.Options{
		HTTPAddr:          firstAddr(cfg.httpAddr),
		HTTPSAddr:         firstAddr(cfg.httpsAddr),
		MoreHTTPAddrs:     moreAddrs(cfg.httpAddr),
		MoreHTTPSAddrs:    moreAddrs(cfg.httpsAddr),
		HandoffSocket:     cfg.handoffSocket,
		GracePeriod:       cfg.gracePeriod,
		ReadHeaderTimeout: cfg.readHeaderTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxConnections:    cfg.maxConnections,
		MaxHeaderBytes:    cfg.maxHeaderBytes,
		Observer:          newRequestMetrics(registry()),
		Proxy:             proxyOpts,
		ProxyProtocol:     cfg.proxyProtocol,
		AdminHandler:      admin,
		AdminListeners:    adminListeners(cfg),
		AccessLog:         accessLog,
		Logger:            logger.With(slog.String("logger", "dataplane")),
	}
}

// proxyOptions are the flags' proxy settings.
func proxyOptions(cfg *config) proxy.Options {
	maxBody := cfg.maxRequestBodyBytes
	if maxBody == 0 {
		maxBody = -1 // the flag's "unlimited"; zero in Options is the default
	}
	return proxy.Options{
		ClientBodyTimeout:   cfg.clientBodyTimeout,
		SendTimeout:         cfg.sendTimeout,
		ReadTimeout:         cfg.upstreamReadTimeout,
		TunnelIdleTimeout:   cfg.tunnelIdleTimeout,
		MaxRequestBodyBytes: maxBody,
	}
}

func reconcileOptions(cfg *config) (reconcile.Options, error) {
	publishService, _ := namespacedName(cfg.publishService)
	defaultTLS, _ := namespacedName(cfg.defaultTLSSecret)
	defaultBackend, _ := serviceWithPort(cfg.defaultBackendService)
	election, err := leaderElection(cfg)
	return reconcile.Options{
		ControllerName:        cfg.controllerName,
		ClassName:             cfg.ingressClass,
		WatchNamespace:        cfg.watchNamespace,
		PublishStatusAddress:  cfg.statusAddresses(),
		PublishService:        publishService,
		DefaultTLSSecret:      defaultTLS,
		LeaderElection:        election,
		DefaultBackendService: defaultBackend,
		StatusWritesPerSecond: cfg.statusWritesPerSecond,

		AllowLoopbackEndpoints: cfg.allowLoopbackEndpoints,

		GatewayControllerName: cfg.gateway.controllerName,
		GatewayAddressPool:    cfg.gateway.addressPool,
		GatewayHTTPPorts:      listenerPorts(cfg.httpAddr),
		GatewayHTTPSPorts:     listenerPorts(cfg.httpsAddr),
	}, err
}

// inClusterNamespace holds the pod's namespace in a pod.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func leaderElection(cfg *config) (*reconcile.LeaderElection, error) {
	if !cfg.leaderElect {
		return nil, nil
	}
	ns := cfg.leaderElectionNamespace
	if ns == "" {
		b, err := os.ReadFile(inClusterNamespace)
		if err != nil {
			return nil, fmt.Errorf("--leader-election-namespace is needed out of cluster: %w", err)
		}
		ns = strings.TrimSpace(string(b))
	}
	return &reconcile.LeaderElection{Namespace: ns, Name: cfg.leaderElectionID,
		LeaseDuration: cfg.leaseDuration, RenewDeadline: cfg.renewDeadline, RetryPeriod: cfg.retryPeriod}, nil
}
