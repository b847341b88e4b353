#!/usr/bin/env bash
# Installs and builds what the single-node cluster (make cluster) runs,
# skipping whatever is already there:
#   - Debian packages: runc, the CNI plugins, iptables, conntrack;
#   - kubelet, kube-controller-manager, kube-scheduler, kube-proxy from
#     k8s.io/kubernetes, pinned by hack/tools/go.mod like kube-apiserver;
#   - containerd, containerd-shim-runc-v2 and ctr from containerd v2.4.2
#     (Kubernetes 1.35+ kubelets need containerd 2.x), without btrfs.
# etcd and kube-apiserver come from hack/build-tools.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/bin"
containerd_version=v2.4.2
mkdir -p "$bin"

need_pkgs=()
for pair in runc:/usr/sbin/runc containernetworking-plugins:/usr/lib/cni/bridge \
	iptables:/usr/sbin/iptables conntrack:/usr/sbin/conntrack iproute2:/usr/sbin/ip; do
	[ -e "${pair#*:}" ] || need_pkgs+=("${pair%%:*}")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
	echo ">> apt-get install ${need_pkgs[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

"$root/hack/build-tools.sh"

# Stamp the release: kubelets report it as the node version, and a module
# build would otherwise say v0.0.0-master.
k8s_version=$(cd "$root/hack/tools" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${k8s_version#v1.}
minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"

build() { # build <output name> <package>; timed, since a fresh one takes minutes
	if [ -x "$bin/$1" ]; then return 0; fi
	echo ">> building $1 from $2" >&2
	local t0=$SECONDS
	(cd "$root/hack/tools" && go build -trimpath -ldflags="$ldflags" -o "$bin/$1.tmp" "$2")
	mv "$bin/$1.tmp" "$bin/$1"
	echo ">> built $1 in $((SECONDS - t0))s" >&2
}
build kubelet k8s.io/kubernetes/cmd/kubelet
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kube-proxy k8s.io/kubernetes/cmd/kube-proxy

if [ ! -x "$bin/containerd" ] || [ ! -x "$bin/containerd-shim-runc-v2" ] || [ ! -x "$bin/ctr" ]; then
	echo ">> installing containerd $containerd_version" >&2
	t0=$SECONDS
	(cd /tmp && GOBIN="$bin" go install -tags no_btrfs -trimpath -ldflags='-s -w' \
		"github.com/containerd/containerd/v2/cmd/containerd@$containerd_version" \
		"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$containerd_version" \
		"github.com/containerd/containerd/v2/cmd/ctr@$containerd_version")
	echo ">> built containerd in $((SECONDS - t0))s" >&2
fi
