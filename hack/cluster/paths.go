package cluster

import "path/filepath"

// Addresses and names the cluster owns. Pods and Services stay clear of
// the netns e2e network (10.244.0.0/16).
const (
	NodeName    = "baton-node"
	Bridge      = "baton0"
	NodeIP      = "10.88.0.1" // on the bridge: apiserver, kubelet, pods' gateway
	PodCIDR     = "10.88.0.0/16"
	NodePodCIDR = "10.88.0.0/24"
	ServiceCIDR = "10.96.0.0/16"
	APIPort     = 6443
	etcdClient  = "127.0.0.1:23790"
	etcdPeer    = "127.0.0.1:23800"

	// PauseImage is the sandbox image containerd is pinned to.
	PauseImage = "baton.local/pause:1"
	// EchoImage runs hack/e2e/backend (listens on :8080).
	EchoImage = "baton.local/echo:1"

	runDir = "/run/baton-cluster"
	libDir = "/var/lib/baton-cluster"
)

// Cluster is the node rooted at a checkout: binaries in Root/bin, state in
// Root/bin/cluster.
type Cluster struct {
	Root string
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

func (c *Cluster) bin(name string) string   { return filepath.Join(c.Root, "bin", name) }
func (c *Cluster) state(name string) string { return filepath.Join(c.Root, "bin", "cluster", name) }

// Kubeconfig is the admin (system:masters) kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.state("kubeconfig") }

func (c *Cluster) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func containerdSocket() string { return filepath.Join(runDir, "containerd", "containerd.sock") }
