package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeConfigs (re)writes every generated config; they are a pure function
// of the checkout path, so rewriting them keeps `make cluster` idempotent.
func (c *Cluster) writeConfigs() error {
	files := map[string]string{
		"containerd.toml":       c.containerdConfig(),
		"kubelet.yaml":          c.kubeletConfig(),
		"cni/10-baton.conflist": cniConfig,
		"resolv.conf":           "", // pods get no resolver: nothing to ask outside this machine
	}
	for _, id := range identities {
		if id.server || id.file == "apiserver-kubelet-client" {
			continue
		}
		files["kubeconfig-"+id.file] = c.kubeconfig(id.file)
	}
	for name, content := range files {
		if err := writeIfChanged(c.state(name), content); err != nil {
			return err
		}
	}
	return writeIfChanged(c.Kubeconfig(), c.kubeconfig("admin"))
}

func writeIfChanged(path, content string) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o600)
}

func (c *Cluster) kubeconfig(user string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: baton
  cluster:
    server: https://%s:%d
    certificate-authority: %s
users:
- name: %s
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: baton
  context: {cluster: baton, user: %s}
current-context: baton
`, NodeIP, APIPort, c.state("pki/ca.crt"), user, c.state("pki/"+user+".crt"), c.state("pki/"+user+".key"), user)
}

// containerdConfig keeps every path containerd would otherwise share with
// the host (/var/lib/containerd, /run/containerd, /var/run/netns,
// /opt/containerd, the NRI socket, runc's /run/containerd/runc) under the
// cluster's own directories.
func (c *Cluster) containerdConfig() string {
	r := strings.NewReplacer("@RUN@", runDir, "@LIB@", libDir, "@CNI@", c.state("cni"), "@PAUSE@", PauseImage)
	return r.Replace(`version = 3
root = "@LIB@/containerd"
state = "@RUN@/containerd"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "@RUN@/containerd/containerd.sock"

[ttrpc]
  address = "@RUN@/containerd/containerd.sock.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "@LIB@/opt"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "@PAUSE@"

# This machine's root lacks CAP_SYS_RESOURCE: runc cannot lower
# oom_score_adj below containerd's own (0), as the -998 of a sandbox needs.
[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "/usr/sbin/runc"
  Root = "@RUN@/runc"
  SystemdCgroup = false

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "@CNI@"
  max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`)
}

// cniConfig: one bridge on the node, host-local addresses from the node's
// /24 with the IPAM state kept under libDir, hostPort through portmap. No
// masquerade: pods talk only to the node and to each other.
var cniConfig = strings.NewReplacer("@BR@", Bridge, "@SUBNET@", NodePodCIDR, "@GW@", NodeIP, "@LIB@", libDir).Replace(`{
  "cniVersion": "1.0.0",
  "name": "baton-cluster",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "@BR@",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "@LIB@/cni-ipam",
        "ranges": [[{"subnet": "@SUBNET@", "gateway": "@GW@"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`)

// kubeletConfig: cgroup v1 with cgroupfs (this machine has no systemd),
// webhook authn/authz against the apiserver, no cluster DNS, and image
// garbage collection effectively off because images cannot be pulled back.
func (c *Cluster) kubeletConfig() string {
	r := strings.NewReplacer("@SOCK@", containerdSocket(), "@CA@", c.state("pki/ca.crt"),
		"@IP@", NodeIP, "@PODCIDR@", NodePodCIDR, "@RESOLV@", c.state("resolv.conf"), "@LIB@", libDir)
	return r.Replace(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://@SOCK@
address: @IP@
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: @CA@}
authorization:
  mode: Webhook
podCIDR: @PODCIDR@
resolvConf: @RESOLV@
failSwapOn: false
serializeImagePulls: true
podLogsDir: @LIB@/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
protectKernelDefaults: false
makeIPTablesUtilChains: false
`)
}
