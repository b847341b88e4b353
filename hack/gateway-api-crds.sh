#!/bin/sh
# Copies the standard-channel Gateway API CRDs of the module version in
# go.mod into the chart (charts/baton/gateway-api/crds), marked
# helm.sh/resource-policy: keep so that uninstalling Baton never deletes
# every Gateway and route in the cluster with their CRDs. Run it after
# changing the sigs.k8s.io/gateway-api version.
set -eu
cd "$(dirname "$0")/.."
version=$(go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
src=$(go env GOMODCACHE)/sigs.k8s.io/gateway-api@$version/config/crd/standard
dst=charts/baton/gateway-api/crds
rm -rf "$dst" && mkdir -p "$dst"
for f in "$src"/gateway.networking.k8s.io_*.yaml; do
	case $f in *_vap_*) continue ;; esac # a ValidatingAdmissionPolicy, not a CRD
	sed '0,/^  annotations:$/s//  annotations:\n    helm.sh\/resource-policy: keep/' "$f" >"$dst/$(basename "$f")"
done
echo "copied $(ls "$dst" | wc -l) CRDs of Gateway API $version to $dst"
