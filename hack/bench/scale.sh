#!/usr/bin/env bash
# scale.sh [OUT]: Baton at BENCH_SCALE Ingresses (default "1000 10000"; add
# 30000 when asked) against a real kube-apiserver: object loading, start to
# ready, build time per change, API write → traffic p50/p99 for each kind
# of change (polled through the proxy), status writes per change, RSS,
# memory along 1,000 more changes (BENCH_SCALE_STEADY; heap profiles in
# OUT/scale/N), and 100 EndpointSlice changes/s under load. Needs root (two
# backend pods in network namespaces). Prints the tables, then the
# in-memory cost of a change at 1k, 10k and 30k Ingresses; full output in
# OUT/scale. BENCH_BATON_ENV (e.g. GODEBUG=gctrace=1) is added to Baton's
# environment only; its log and the churn's request times stay in OUT/scale/N.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bin/bench}
mkdir -p "$out/scale"
cd "$root"
sizes=$(echo "${BENCH_SCALE:-1000 10000}" | tr ' ' ',')
go build -o "$out/scale/baton" ./cmd/controller
go build -o "$out/scale/scale" ./hack/bench/scale
"$out/scale/scale" -ingresses "$sizes" -changes "${BENCH_SCALE_CHANGES:-30}" -churn "${BENCH_SCALE_CHURN:-30s}" \
	-steady "${BENCH_SCALE_STEADY:-1000}" -profiles "$out/scale" \
	-baton "$out/scale/baton" -baton-env "${BENCH_BATON_ENV:-}" -root "$root" 2>&1 | tee "$out/scale/output.txt" | grep -E '^\||^Propagation|scale:'
# The same kinds of change in memory, translate + apply to a Router, CPU
# per change with garbage collection (BenchmarkIncrementalScale): what a
# change costs at 1k, 10k and 30k Ingresses without the API server, the
# informers and the machine's other load in the way.
go test -run '^$' -bench 'BenchmarkIncrementalScale' -benchtime "${BENCH_SCALE_ITERATIONS:-200x}" ./pkg/reconcile/translate/ \
	>"$out/scale/incremental.txt"
awk '
/^BenchmarkIncrementalScale\// {
	# BenchmarkIncrementalScale/KIND-SIZE-GOMAXPROCS; KIND may hold dashes.
	split($1, part, "/"); k = split(part[2], kn, "-")
	size = kn[k-1]; kind = kn[1]; for (j = 2; j < k-1; j++) kind = kind "-" kn[j]
	for (i = 3; i < NF; i++) if ($(i+1) == "cpu-ms/op") cpu[kind, size] = $i
	if (!(size in seen)) { seen[size] = 1; order[++n] = size } # the benchmark runs the sizes in order
}
END {
	header = "| in memory, CPU ms per change (GC included) |"; rule = "| --- |"
	for (i = 1; i <= n; i++) { header = header " " order[i] " Ingresses |"; rule = rule " --- |" }
	print header; print rule
	nr = split("ingress:Ingress changed,new-ingress:new Ingress,slice:EndpointSlice changed,service-port:Service port change,secret:TLS Secret rotated", rows, ",")
	for (r = 1; r <= nr; r++) {
		split(rows[r], kv, ":"); line = "| " kv[2] " |"
		for (i = 1; i <= n; i++) line = line " " cpu[kv[1], order[i]] " |"
		print line
	}
}' "$out/scale/incremental.txt"
