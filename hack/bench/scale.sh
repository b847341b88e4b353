#!/usr/bin/env bash
# scale.sh [OUT]: Baton at BENCH_SCALE Ingresses (default "1000 10000"; add
# 30000 when asked) against a real kube-apiserver: object loading, start to
# ready, build time per change, API write → traffic p50/p99 for each kind
# of change (polled through the proxy), status writes per change, RSS, and
# 100 EndpointSlice changes/s under load. Needs root (two backend pods in
# network namespaces). Prints one table; full output in OUT/scale.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bin/bench}
mkdir -p "$out/scale"
cd "$root"
sizes=$(echo "${BENCH_SCALE:-1000 10000}" | tr ' ' ',')
go build -o "$out/scale/baton" ./cmd/controller
go build -o "$out/scale/scale" ./hack/bench/scale
"$out/scale/scale" -ingresses "$sizes" -changes "${BENCH_SCALE_CHANGES:-30}" -churn "${BENCH_SCALE_CHURN:-30s}" \
	-baton "$out/scale/baton" -root "$root" 2>&1 | tee "$out/scale/output.txt" | grep -E '^\||^Propagation|scale:'
