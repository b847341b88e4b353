package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

// The suite shares one control plane; every test uses its own namespace,
// hosts and pod indexes so that tests cannot see each other's routes. A
// test that freezes or breaks the API server starts its own
// (ownControlPlane), so it may run in any order.
var (
	root string
	cp   *framework.ControlPlane
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// The suite logs nothing of controller-runtime's; without a logger it
	// prints a stack trace when a test starts its own control plane.
	ctrllog.SetLogger(logr.Discard())
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, bin := range []string{"baton", "baton-e2e-backend", "kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(root, "bin", bin)); err != nil {
			fmt.Fprintf(os.Stderr, "e2e needs bin/%s: run make tools build (%v)\n", bin, err)
			return 1
		}
	}
	if err := framework.RequireRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	release, err := framework.ClaimPodNetwork()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer release()
	if cp, err = framework.StartControlPlane(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	return m.Run()
}
