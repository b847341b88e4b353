package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr"}

var requiredHostFiles = []string{"/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local",
	"/usr/lib/cni/portmap", "/usr/lib/cni/loopback", "/usr/sbin/iptables", "/usr/sbin/conntrack"}

// Start brings the node up and waits until it is Ready. Whatever already
// runs is kept, so a second Start only checks.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.checkPrerequisites(); err != nil {
		return err
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, dir := range []string{runDir, libDir, c.state("logs")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"certificates and configs", func(context.Context) error { return c.prepare() }},
		{"bridge " + Bridge, func(context.Context) error { return ensureBridge() }},
		{"forwarding", func(context.Context) error { return ensureForwarding() }},
		{"etcd", c.startEtcd},
		{"kube-apiserver", c.startAPIServer},
		{"containerd and images", c.startContainerd},
		{"node components", func(context.Context) error { return c.startNode() }},
		{"node Ready", c.waitNodeReady},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w (logs in %s)", s.name, err, c.state("logs"))
		}
	}
	return nil
}

func (c *Cluster) checkPrerequisites() error {
	if os.Geteuid() != 0 {
		return errors.New("the cluster needs root (mounts, cgroups, network)")
	}
	for _, b := range requiredBinaries {
		if !exists(c.bin(b)) {
			return fmt.Errorf("%s missing: run hack/cluster/build.sh (make cluster does)", c.bin(b))
		}
	}
	for _, f := range requiredHostFiles {
		if !exists(f) {
			return fmt.Errorf("%s missing: run hack/cluster/build.sh (installs the Debian packages)", f)
		}
	}
	return nil
}

func (c *Cluster) prepare() error {
	if err := c.ensurePKI(); err != nil {
		return err
	}
	return c.writeConfigs()
}

func (c *Cluster) daemons() map[string]daemon {
	pki := func(f string) string { return c.state("pki/" + f) }
	kc := func(f string) string { return c.state("kubeconfig-" + f) }
	return map[string]daemon{
		"etcd": {"etcd", c.bin("etcd"), []string{"--name=baton", "--data-dir=" + libDir + "/etcd",
			"--listen-client-urls=http://" + etcdClient, "--advertise-client-urls=http://" + etcdClient,
			"--listen-peer-urls=http://" + etcdPeer, "--initial-advertise-peer-urls=http://" + etcdPeer,
			"--initial-cluster=baton=http://" + etcdPeer, "--unsafe-no-fsync"}},
		"kube-apiserver": {"kube-apiserver", c.bin("kube-apiserver"), []string{
			"--etcd-servers=http://" + etcdClient, "--bind-address=" + NodeIP, "--advertise-address=" + NodeIP,
			"--secure-port=" + strconv.Itoa(APIPort), "--cert-dir=" + c.state("pki"),
			"--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"),
			"--client-ca-file=" + pki("ca.crt"), "--service-cluster-ip-range=" + ServiceCIDR,
			"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
			// The node's InternalIP, never a DNS lookup of its name.
			"--kubelet-preferred-address-types=InternalIP",
			"--authorization-mode=Node,RBAC", "--allow-privileged=true", "--profiling=false"}},
		"containerd": {"containerd", c.bin("containerd"), []string{"--config=" + c.state("containerd.toml")}},
		"kube-controller-manager": {"kube-controller-manager", c.bin("kube-controller-manager"), []string{
			"--kubeconfig=" + kc("controller-manager"), "--secure-port=0", "--leader-elect=false",
			"--service-account-private-key-file=" + pki("sa.key"), "--root-ca-file=" + pki("ca.crt"),
			"--use-service-account-credentials=true", "--allocate-node-cidrs=true",
			"--cluster-cidr=" + PodCIDR, "--node-cidr-mask-size=24", "--service-cluster-ip-range=" + ServiceCIDR}},
		"kube-scheduler": {"kube-scheduler", c.bin("kube-scheduler"), []string{
			"--kubeconfig=" + kc("scheduler"), "--secure-port=0", "--leader-elect=false"}},
		"kube-proxy": {"kube-proxy", c.bin("kube-proxy"), []string{
			"--kubeconfig=" + kc("kube-proxy"), "--hostname-override=" + NodeName, "--proxy-mode=iptables",
			"--cluster-cidr=" + PodCIDR, "--masquerade-all", "--nodeport-addresses=" + NodeIP + "/32",
			"--healthz-bind-address=127.0.0.1:10256", "--metrics-bind-address=127.0.0.1:10249",
			// Leave the machine's conntrack sysctls alone.
			"--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0",
			"--conntrack-tcp-timeout-close-wait=0"}},
		"kubelet": {"kubelet", c.bin("kubelet"), []string{
			"--config=" + c.state("kubelet.yaml"), "--kubeconfig=" + kc("kubelet"),
			"--hostname-override=" + NodeName, "--node-ip=" + NodeIP, "--root-dir=" + libDir + "/kubelet",
			"--cert-dir=" + libDir + "/kubelet/pki"}},
	}
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	if err := c.start(c.daemons()["etcd"]); err != nil {
		return err
	}
	return poll(ctx, time.Minute, func() error {
		resp, err := http.Get("http://" + etcdClient + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd /health: %s", resp.Status)
		}
		return nil
	})
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	if err := c.start(c.daemons()["kube-apiserver"]); err != nil {
		return err
	}
	client, err := c.adminHTTP()
	if err != nil {
		return err
	}
	url := "https://" + net.JoinHostPort(NodeIP, strconv.Itoa(APIPort)) + "/readyz"
	return poll(ctx, 3*time.Minute, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("apiserver /readyz: %s", resp.Status)
		}
		return nil
	})
}

func (c *Cluster) adminHTTP() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(c.state("pki/admin.crt"), c.state("pki/admin.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(c.state("pki/ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}, nil
}

func (c *Cluster) startContainerd(ctx context.Context) error {
	if err := c.start(c.daemons()["containerd"]); err != nil {
		return err
	}
	if err := poll(ctx, time.Minute, func() error { return c.ctr("version") }); err != nil {
		return err
	}
	images := []struct{ file, ref, pkg string }{
		{"pause.tar", PauseImage, "./hack/cluster/pause"},
		{"echo.tar", EchoImage, "./hack/e2e/backend"},
	}
	for _, img := range images {
		if err := c.ensureImage(c.state("images/"+img.file), img.ref, img.pkg); err != nil {
			return fmt.Errorf("image %s: %w", img.ref, err)
		}
	}
	return nil
}

// ensureImage builds the image tarball (cheap when Go's build cache is
// warm) and imports it only if containerd lacks that exact digest.
func (c *Cluster) ensureImage(tarPath, ref, pkg string) error {
	if err := c.BuildImage(tarPath, ref, pkg); err != nil {
		return err
	}
	dgst, err := ImageDigest(tarPath)
	if err != nil {
		return err
	}
	if c.hasImage(ref, dgst) {
		return nil
	}
	c.logf("importing %s (%s)", ref, dgst)
	return c.ImportImage(tarPath)
}

func (c *Cluster) startNode() error {
	d := c.daemons()
	for _, name := range []string{"kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet"} {
		if err := c.start(d[name]); err != nil {
			return err
		}
	}
	return nil
}

// Client is a clientset with the admin kubeconfig.
func (c *Cluster) Client() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func (c *Cluster) waitNodeReady(ctx context.Context) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	return poll(ctx, 3*time.Minute, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s not Ready", NodeName)
	})
}

// poll retries fn every half second until it succeeds or timeout passes,
// returning fn's last error.
func poll(ctx context.Context, timeout time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
