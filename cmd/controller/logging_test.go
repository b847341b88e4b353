package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/baton-dev/baton/pkg/dataplane/accesslog"
)

func TestLoggingFlags(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil || cfg.accessLog != "stdout" || cfg.accessLogFormat != "json" || cfg.logLevel != "info" {
		t.Fatalf("defaults: %+v, %v; want stdout, json, info", cfg, err)
	}
	for _, bad := range [][]string{
		{"--log-level", "verbose"}, {"--access-log-format", "xml"}, {"--access-log", ""},
	} {
		if _, err := parseFlags(bad); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%q: error %v, want one naming the flag", bad, err)
		}
	}
	// --version answers even when other flags would be refused.
	if cfg, err := parseFlags([]string{"--version", "--log-level", "verbose"}); err != nil || !cfg.showVersion {
		t.Errorf("--version: %+v, %v", cfg, err)
	}
}

func TestPrintVersion(t *testing.T) {
	var b bytes.Buffer
	printVersion(&b)
	if !strings.HasPrefix(b.String(), "baton "+version+" go") {
		t.Errorf("printed %q", b.String())
	}
}

// controller-runtime's logr logger and Baton's slog logger write through
// one handler: the same JSON lines, one level setting.
func TestOneLoggerForBothSides(t *testing.T) {
	t.Cleanup(func() { // leave no buffer behind for other tests
		ctrl.SetLogger(logr.Discard())
		klog.ClearLogger()
	})
	var b bytes.Buffer
	logger := setupLogging("info", &b)
	logger.Error("from slog", "err", errors.New("boom"))
	ctrl.Log.WithName("reconcile").Info("from logr", "ingress", "shop/web")
	ctrl.Log.V(1).Info("debug from logr: below the level")

	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines (start, slog, logr), got:\n%s", b.String())
	}
	want := []map[string]any{
		{"msg": "baton starting", "level": "INFO", "version": version},
		{"msg": "from slog", "level": "ERROR", "err": "boom"},
		{"msg": "from logr", "level": "INFO", "logger": "reconcile", "ingress": "shop/web"},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %s", i, line)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %#v, want %#v", i, k, got[k], v)
			}
		}
	}
}

func TestOpenAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	cfg := &config{accessLog: path, accessLogFormat: "text"}
	l, err := openAccessLog(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&accesslog.Entry{Method: "GET", Status: 204})
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !strings.Contains(string(got), "method=GET") || !strings.Contains(string(got), "status=204") {
		t.Errorf("file holds %q", got)
	}
	if l, err := openAccessLog(&config{accessLog: "off", accessLogFormat: "json"}, nil); l != nil || err != nil {
		t.Errorf("off: %v, %v", l, err)
	}
}
