#!/usr/bin/env bash
# soak.sh [OUT]: the real Baton binary against a real kube-apiserver and four
# backend pods (network namespaces; needs root), under constant load for
# $BATON_SOAK (default 60s) while the EndpointSlice changes every 100 ms and
# the Ingress every second. Prints the `soak:` summary line (requests sent and
# failed, latency percentiles, RSS/heap/goroutines before and after, snapshots
# applied); fails if any request failed or memory grew. Full log in OUT/soak
# (test.log lists the slow requests with the slice changes around them;
# baton.log is Baton's own log; access.log its access log, unless
# BATON_SOAK_ACCESS_LOG names another file, or "stdout": into the test's
# memory, as before, which stalls the load at each garbage collection).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bin/bench}
mkdir -p "$out/soak"
cd "$root"
BATON_SOAK=${BATON_SOAK:-60s} BATON_SOAK_LOG=$out/soak/baton.log BATON_SOAK_ACCESS_LOG=${BATON_SOAK_ACCESS_LOG:-$out/soak/access.log} go test -count=1 -run '^TestSoak$' -v -timeout 20m ./hack/e2e/ 2>&1 |
	tee "$out/soak/test.log" | grep -E '^(soak:|--- |FAIL|ok )|requests failed|grew|not true|log with|longer than'
