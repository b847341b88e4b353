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
	"time"

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
	admin := adminHandler(ready)
	dp := dataplane.New(dataplaneOptions(cfg, admin, logger, accessLog))
	opts, err := reconcileOptions(cfg)
	if err != nil {
		return err
	}
	controller, err := reconcile.Setup(mgr, dp, opts)
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
	managerDone := make(chan error, 1)
	go func() { managerDone <- mgr.Start(mgrCtx) }()

	if err := waitFirstSnapshot(mgrCtx, controller, managerDone, signals); err != nil {
		return err
	}
	if err := dp.Start(mgrCtx); err != nil {
		return err
	}
	ready.serving.Store(true)
	log.Info("serving", "http", cfg.httpAddr, "https", cfg.httpsAddr)
	signalled, err := serveUntilStopped(dp, cfg, ready, managerDone, signals)
	stopManager()
	if cfg.stayAfterHandoff && !signalled && isClosed(dp.TakenOver()) {
		// In a pod, exiting would restart the container (restartPolicy
		// Always), and the restarted process would take the listeners back.
		log.Info("listeners handed over and drained; waiting for termination")
		<-signals
	}
	return err
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
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

// serveUntilStopped waits for SIGTERM (drain), SIGINT (stop now), a
// successor taking the listeners (drain) or the manager failing (drain).
// It reports whether a signal asked this process to end.
func serveUntilStopped(dp *dataplane.DataPlane, cfg *config, ready *readiness, managerDone <-chan error, signals <-chan os.Signal) (bool, error) {
	grace := cfg.gracePeriod
	var cause error
	signalled := false
	select {
	case sig := <-signals:
		signalled = true
		if sig == syscall.SIGINT || !awaitSuccessor(dp, cfg.handoffWait, signals) {
			log.Info("SIGINT: stopping now")
			return true, dp.Close()
		}
		log.Info("SIGTERM: draining", "grace", grace)
	case <-dp.TakenOver():
		log.Info("a successor took the listeners: draining", "grace", grace)
	case cause = <-managerDone:
		log.Error(cause, "manager stopped: draining", "grace", grace)
	}
	ready.draining.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := dp.Shutdown(ctx); err != nil {
		log.Error(err, "drain did not finish in time")
	}
	return signalled, cause
}

// awaitSuccessor keeps serving after SIGTERM for up to wait, until a
// successor takes the listeners. In a hostNetwork rollout the old pod may
// be told to stop before the new one is ready to route; draining at once
// would leave the node's ports with nobody accepting. It reports false if
// SIGINT asked for a fast stop meanwhile.
func awaitSuccessor(dp *dataplane.DataPlane, wait time.Duration, signals <-chan os.Signal) bool {
	if wait <= 0 {
		return true
	}
	log.Info("SIGTERM: serving until a successor takes the listeners", "wait", wait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-dp.TakenOver():
		log.Info("a successor took the listeners")
	case <-timer.C:
		log.Info("no successor took the listeners in time")
	case sig := <-signals:
		return sig != syscall.SIGINT
	}
	return true
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
		HTTPAddr:          cfg.httpAddr,
		HTTPSAddr:         cfg.httpsAddr,
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

		AllowLoopbackEndpoints: cfg.allowLoopbackEndpoints,
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
