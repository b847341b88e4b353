package framework

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/baton-dev/baton/pkg/reconcile"
)

// ControlPlane is a real etcd + kube-apiserver with Baton's CRDs installed.
type ControlPlane struct {
	env *envtest.Environment
	// Config authenticates as a cluster admin.
	Config *rest.Config
	Client client.Client
	// Kubeconfig is a file with admin credentials, for kubectl, helm and
	// the Baton binary.
	Kubeconfig string
}

// StartControlPlane starts the binaries found in root/bin and installs the
// CRDs of root/config/crd, and those of crdDirs (such as the Gateway API
// CRDs, which a test that needs them installs in a control plane of its
// own, so that no other test's Baton serves Gateway API).
func StartControlPlane(root string, crdDirs ...string) (*ControlPlane, error) {
	env := &envtest.Environment{
		BinaryAssetsDirectory: filepath.Join(root, "bin"),
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd")}, crdDirs...),
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s/bin (run make tools): %w", root, err)
	}
	cp := &ControlPlane{env: env, Config: cfg}
	if err := cp.setup(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) setup() error {
	scheme := runtime.NewScheme()
	if err := reconcile.AddToScheme(scheme); err != nil {
		return err
	}
	var err error
	if cp.Client, err = client.New(cp.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	admin, err := cp.env.AddUser(envtest.User{Name: "baton-e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "baton-kubeconfig-*")
	if err != nil {
		return err
	}
	defer f.Close()
	cp.Kubeconfig = f.Name()
	_, err = f.Write(kubeconfig)
	return err
}

// FreezeAPIServer stops the kube-apiserver process (SIGSTOP) to make the
// API unreachable the way a partition does: connections hang, nothing
// answers. ThawAPIServer resumes it.
func (cp *ControlPlane) FreezeAPIServer() error { return cp.signalAPIServer(syscall.SIGSTOP) }

// ThawAPIServer resumes a frozen kube-apiserver.
func (cp *ControlPlane) ThawAPIServer() error { return cp.signalAPIServer(syscall.SIGCONT) }

func (cp *ControlPlane) signalAPIServer(sig syscall.Signal) error {
	u, err := url.Parse(cp.Config.Host)
	if err != nil {
		return err
	}
	out, err := exec.Command("pgrep", "-f", "kube-apiserver.*--secure-port="+u.Port()).Output()
	if err != nil {
		return fmt.Errorf("find kube-apiserver on port %s: %w", u.Port(), err)
	}
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		if err := syscall.Kill(pid, sig); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops everything and removes the kubeconfig.
func (cp *ControlPlane) Stop() error {
	_ = os.Remove(cp.Kubeconfig)
	return cp.env.Stop()
}

// ImpersonatingKubeconfig writes a kubeconfig that acts as user with
// groups, through the admin's right to impersonate: how a test runs Baton
// out of cluster with exactly a ServiceAccount's permissions.
func (cp *ControlPlane) ImpersonatingKubeconfig(user string, groups ...string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(cp.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateGroups = groups
	}
	f, err := os.CreateTemp("", "baton-impersonate-*")
	if err != nil {
		return "", err
	}
	f.Close()
	return f.Name(), clientcmd.WriteToFile(*cfg, f.Name())
}
