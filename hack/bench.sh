#!/usr/bin/env bash
# make bench: Go micro-benchmarks, then a loopback comparison of Baton with
# nginx and HAProxy in front of one backend, measured in the same run, and
# the cases of issue #14 (engine.sh) beside nginx.
#
# Core 0 runs the proxy under test; core 1 runs wrk and the backend. Proxy CPU
# per request is read from /proc (utime+stime) around the wrk run, so the
# number does not depend on how busy the load generator's core was.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${BENCH_OUT:-$root/bin/bench}
mkdir -p "$out"
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-32}

# The load generators and the proxies compared with Baton (as .ci/run).
need=()
for pair in wrk:wrk nginx:nginx-light haproxy:haproxy h2load:nghttp2-client openssl:openssl; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then echo "make bench needs: ${need[*]} (apt-get install)" >&2; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

echo "== micro-benchmarks (route match, pool pick, Logging phase with and without access log: must be 0 allocs/op)"
go test -run '^$' -bench 'Match|Pick|Logging' -benchmem -count=1 ./pkg/dataplane/router/ ./pkg/lb/... | grep -E '^(Benchmark|ok|FAIL)'
echo "== proxied request, HTTP/1.1 keep-alive both sides (allocs/op: the proxy's share is ProxyH1 minus DirectH1, the same client and backend without the proxy)"
go test -run '^$' -bench 'ProxyH1|DirectH1' -benchmem -count=1 ./pkg/dataplane/proxy/ | grep -E '^(Benchmark|ok|FAIL)'

echo "== time from an API write to the snapshot that contains it (real kube-apiserver)"
go test -count=1 -tags envtest -run TestMeasureApplyLatency -v ./pkg/reconcile/ | grep -E 'apply-latency|^(ok|FAIL)'

echo "== scale: build CPU per change (in memory), then load, start to ready, propagation and RSS (real kube-apiserver)"
go test -run '^$' -bench 'Scale' -benchtime 10x -count=1 ./pkg/reconcile/translate/ | grep -E '^(Benchmark|ok|FAIL)'
hack/bench/scale.sh "$out"

go build -o bin/baton-benchproxy ./hack/bench/proxy
hack/bench/compare.sh "$out" "$duration" "$conns"
# Issue #14: new connection per request, 64 KiB responses, 1 MiB uploads,
# TLS, h2c and h2, and memory per idle connection, each beside nginx.
hack/bench/engine.sh "$out" "$duration" "$conns"
hack/bench/reload.sh "$out"

echo "== soak: load with EndpointSlice churn every 100ms and an Ingress change every second (BATON_SOAK, default 60s)"
hack/bench/soak.sh "$out"
