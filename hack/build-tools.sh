#!/usr/bin/env bash
# Builds the real control-plane and packaging tools into bin/ from the Go
# module proxy. Anything already in bin/ is kept, so only a fresh clone pays
# the ~6 minutes the kube-apiserver build takes on two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
mkdir -p "$bin"
cd "$root/hack/tools"

build() { # build <output name> <package>
	if [ -x "$bin/$1" ]; then return 0; fi
	echo ">> building $1 from $2" >&2
	go build -trimpath -ldflags='-s -w' -o "$bin/$1.tmp" "$2"
	mv "$bin/$1.tmp" "$bin/$1"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
if [ ! -x "$bin/helm" ]; then
	echo ">> installing helm" >&2
	GOBIN="$bin" go install helm.sh/helm/v3/cmd/helm@v3.22.0
fi
if [ ! -x "$bin/controller-gen" ]; then
	echo ">> installing controller-gen" >&2
	GOBIN="$bin" go install sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
fi
