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
# One logger, passed in: packages under pkg/ take a *slog.Logger and never
# write through the standard log package (its output would bypass the
# process's handler, format and level). Tests may use it.
stdlog=$(go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./pkg/... | awk '{for (i = 2; i <= NF; i++) if ($i == "log") print $1}')
if [ -n "$stdlog" ]; then
	echo "packages under pkg/ must log through *slog.Logger, not the log package:" >&2
	echo "$stdlog" >&2
	exit 1
fi
echo "import rules: ok"
