// Package envtesting starts the real kube-apiserver and etcd (bin/, or
// KUBEBUILDER_ASSETS) that the envtest-tagged tests of several packages
// share, with the CRDs each needs, so that they set it up one way.
package envtesting

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Main runs the tests of m against an API server that serves Baton's own
// CRDs (config/crd) and the extra CRD files or directories in crds; *cfg
// is set before any test runs. It does not return.
func Main(m *testing.M, scheme *runtime.Scheme, cfg **rest.Config, crds ...string) {
	root, err := repoRoot()
	if err == nil && os.Getenv("KUBEBUILDER_ASSETS") == "" {
		err = os.Setenv("KUBEBUILDER_ASSETS", filepath.Join(root, "bin"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		os.Exit(1)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd")}, crds...),
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	if *cfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "envtest stop:", err)
	}
	os.Exit(code)
}

// GatewayAPICRDs are the standard-channel CRD files of the Gateway API
// module version in go.mod, without its ValidatingAdmissionPolicies.
func GatewayAPICRDs() ([]string, error) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return nil, fmt.Errorf("find the gateway-api module: %w", err)
	}
	std := filepath.Join(strings.TrimSpace(string(dir)), "config", "crd", "standard")
	files, err := filepath.Glob(filepath.Join(std, "gateway.networking.k8s.io_*.yaml"))
	var crds []string
	for _, f := range files {
		if !strings.Contains(f, "_vap_") {
			crds = append(crds, f)
		}
	}
	return crds, err
}

// repoRoot is the directory of go.mod above the working directory (a
// test runs in its package's directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	for err == nil {
		if _, statErr := os.Stat(filepath.Join(dir, "go.mod")); statErr == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	return "", err
}
