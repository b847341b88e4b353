package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
)

// version is set at build time: -ldflags "-X main.version=$(git describe)".
var version = "dev"

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "baton %s %s\n", version, runtime.Version())
}

// logLevels are the --log-level values.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// setupLogging makes the one logger of the process, JSON on stderr, and
// points controller-runtime (logr) and client-go (klog) at the same
// handler, so every line has one format and one level setting. It logs
// the version first.
func setupLogging(level string, w io.Writer) *slog.Logger {
	handler := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: logLevels[level]})
	logger := slog.New(handler)
	ctrl.SetLogger(logr.FromSlogHandler(handler))
	klog.SetSlogLogger(logger)
	logger.Info("baton starting", slog.String("version", version), slog.String("go", runtime.Version()))
	return logger
}

// openAccessLog opens the --access-log destination; nil when it is off.
func openAccessLog(cfg *config, logger *slog.Logger) (*accesslog.Logger, error) {
	format, err := accesslog.ParseFormat(cfg.accessLogFormat)
	if err != nil {
		return nil, err
	}
	var w io.Writer
	switch cfg.accessLog {
	case "off":
		return nil, nil
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		// Appending, so logrotate's copytruncate works; the file stays
		// open until the process exits.
		f, err := os.OpenFile(cfg.accessLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--access-log: %w", err)
		}
		w = f
	}
	return accesslog.New(w, accesslog.Options{Format: format, Logger: logger}), nil
}
