#!/usr/bin/env bash
# Enforces the dependency direction of ../shared/DESIGN.md: the data plane and
# the load balancer never see Kubernetes types.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(go list -deps ./pkg/dataplane/... ./pkg/lb/... | grep -E '^(k8s\.io|sigs\.k8s\.io)/' || true)
if [ -n "$bad" ]; then
	echo "pkg/dataplane and pkg/lb must not depend on Kubernetes packages, found:" >&2
	echo "$bad" >&2
	exit 1
fi
echo "import rules: ok"
