#!/usr/bin/env bash
# make conformance: the official Gateway API conformance suite
# (sigs.k8s.io/gateway-api/conformance, pinned in hack/conformance/suite/go.mod),
# run unmodified against Baton on the single-node cluster of hack/cluster.
#
#   1. the node (make cluster); a node already up is reused and left up;
#   2. the suite's images (echo-basic, CoreDNS) built from source and
#      imported under the names its manifests use; Baton's image (hack/image);
#   3. the standard-channel Gateway API CRDs of the same version, the chart in
#      DaemonSet mode (host network, listeners on :80 and :443), GatewayClass
#      $GATEWAY_CLASS for baton.dev/gateway-controller;
#   4. $GATEWAY_ADDRESS_POOL routed to this host (local route on lo), so the
#      addresses Baton gives Gateways reach its listeners;
#   5. go test sigs.k8s.io/gateway-api/conformance -run TestConformance, the
#      report in hack/conformance/out/report.yaml (and
#      bin/gateway-conformance-report.yaml), a summary per test.
#
# Knobs (environment): GATEWAY_CLASS (baton), GATEWAY_ADDRESS_POOL
# (10.89.0.0/24), CONFORMANCE_PROFILES (GATEWAY-HTTP,GATEWAY-GRPC),
# SUPPORTED_FEATURES (default: what the GatewayClass declares in
# status.supportedFeatures), CONFORMANCE_ARGS (more suite flags, e.g.
# --run-test=HTTPRouteSimpleSameNamespace), CONFORMANCE_HELM_ARGS (more chart
# values), CONFORMANCE_TIMEOUT (go test -timeout, 90m), CONFORMANCE_KEEP=1
# (leave a node this run started up, with Baton and the route, for debugging).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$root/bin
out=$root/hack/conformance/out
export KUBECONFIG=$bin/cluster/kubeconfig
export PATH=$bin:$PATH

class=${GATEWAY_CLASS:-baton}
controller_name=baton.dev/gateway-controller
pool=${GATEWAY_ADDRESS_POOL:-10.89.0.0/24}
profiles=${CONFORMANCE_PROFILES:-GATEWAY-HTTP,GATEWAY-GRPC}
release=baton
release_ns=baton-system
# What the profiles' cores need when the GatewayClass declares nothing yet.
core_features=Gateway,HTTPRoute,ReferenceGrant,GRPCRoute
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)

t0=$SECONDS
step() { echo ">> [$((SECONDS - t0))s] $*" >&2; }
cluster() { go run ./hack/cluster/cmd/cluster -root "$root" "$@"; }

# --- addresses ---------------------------------------------------------------
cidr_range() { # cidr_range A.B.C.D/N -> "first last" as integers
	local ip=${1%/*} bits=${1#*/} a b c d
	IFS=. read -r a b c d <<<"$ip"
	local n=$(((a << 24) | (b << 16) | (c << 8) | d)) size=$((1 << (32 - bits)))
	echo "$((n & ~(size - 1) & 0xffffffff)) $(((n & ~(size - 1) & 0xffffffff) + size - 1))"
}
int_ip() { echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"; }
# pool_edges: the pool's last usable address (before the broadcast one) and
# the first address after the pool.
pool_edges() {
	local first last
	read -r first last < <(cidr_range "$pool")
	echo "$(int_ip $((last - 1))) $(int_ip $((last + 1)))"
}
# The pool must not overlap the node's pods, Services or the netns e2e
# network, or Baton's addresses would shadow (or be shadowed by) theirs.
check_pool() {
	local p1 p2 o1 o2 other
	read -r p1 p2 < <(cidr_range "$pool")
	for other in 10.88.0.0/16 10.96.0.0/16 10.244.0.0/16 127.0.0.0/8; do
		read -r o1 o2 < <(cidr_range "$other")
		if ((p1 <= o2 && o1 <= p2)); then
			echo "GATEWAY_ADDRESS_POOL $pool overlaps $other" >&2
			exit 2
		fi
	done
}

# --- the node ----------------------------------------------------------------
started_node=0
node_up() { [ -f "$KUBECONFIG" ] && kubectl get node baton-node >/dev/null 2>&1; }
finish() {
	local status=$?
	if [ "$started_node" = 1 ] && [ "${CONFORMANCE_KEEP:-0}" != 1 ]; then
		step "taking down the node this run started (CONFORMANCE_KEEP=1 keeps it)"
		ip route del local "$pool" dev lo table local 2>/dev/null || true
		cluster down || true
	else
		echo "node, Baton and the route to $pool left up; KUBECONFIG=$KUBECONFIG" >&2
	fi
	exit "$status"
}

# --- Baton -------------------------------------------------------------------
# The pool flag only once the controller has it, so the harness can be
# checked before the Gateway API implementation lands.
# The suite puts HTTP listeners on 80, 8080 (GatewayPort8080) and 8090
# (HTTPRouteParentRefPort) of one Gateway, so all three are bound.
pool_args=()
if grep -rqs -- 'gateway-address-pool' cmd/controller; then
	pool_args=(--set-json "extraArgs=[\"--gateway-address-pool=$pool\",\"--http-bind-address=:80,:8080,:8090\"]")
fi

install_baton() {
	step "Baton image"
	(cd hack/image && go run . -src "$root" -out "$bin/conformance/baton-image.tar")
	cluster import "$bin/conformance/baton-image.tar"
	if helm status "$release" -n "$release_ns" >/dev/null 2>&1; then
		step "removing the previous release (fresh pods on the freshly imported image)"
		helm uninstall "$release" -n "$release_ns" --wait
		# The old pods drain for a while: until they are gone they hold the
		# node's ports (the new pod could not bind) and may rewrite statuses.
		kubectl wait --for=delete pod -l "app.kubernetes.io/instance=$release" -n "$release_ns" --timeout=3m 2>/dev/null || true
	fi
	forget_features
	step "chart: DaemonSet on the host network, :80, :8080, :8090 and :443"
	[ ${#pool_args[@]} -gt 0 ] || echo "NOTE: this checkout's controller has no --gateway-address-pool; not passing $pool" >&2
	# shellcheck disable=SC2086 # CONFORMANCE_HELM_ARGS is a list of flags
	helm install "$release" charts/baton -n "$release_ns" --create-namespace --wait --timeout 3m \
		--set mode=DaemonSet --set image.pullPolicy=Never --set service.enabled=false \
		--set handoff.enabled=false --set hostPorts.http=80 --set hostPorts.https=443 \
		"${pool_args[@]}" ${CONFORMANCE_HELM_ARGS:-} >"$out/helm.log"
}

ensure_gatewayclass() {
	if kubectl get gatewayclass "$class" >/dev/null 2>&1; then
		local have
		have=$(kubectl get gatewayclass "$class" -o jsonpath='{.spec.controllerName}')
		[ "$have" = "$controller_name" ] || echo "WARNING: GatewayClass $class is for $have" >&2
		return
	fi
	kubectl apply -f - <<EOF
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: $class}
spec: {controllerName: $controller_name}
EOF
}

# forget_features clears what the previous Baton declared on the class, so
# that supported_features reads what the Baton just installed declares,
# not a stale list (a feature since withdrawn would still be tested).
forget_features() {
	kubectl get gatewayclass "$class" >/dev/null 2>&1 || return 0
	kubectl patch gatewayclass "$class" --subresource=status --type=merge \
		-p '{"status":{"supportedFeatures":null}}' >/dev/null
}

# The features Baton declares on its GatewayClass, once it accepted it.
supported_features() {
	if [ -n "${SUPPORTED_FEATURES:-}" ]; then
		echo "$SUPPORTED_FEATURES"
		return
	fi
	if ! kubectl wait --for=condition=Accepted "gatewayclass/$class" --timeout=60s >/dev/null 2>&1; then
		echo "WARNING: GatewayClass $class not Accepted after 60s: the suite's setup will fail" >&2
	fi
	kubectl wait --for=jsonpath='{.status.supportedFeatures[0].name}' "gatewayclass/$class" --timeout=30s >/dev/null 2>&1 || true
	local declared
	declared=$(kubectl get gatewayclass "$class" -o jsonpath='{.status.supportedFeatures[*].name}')
	if [ -z "$declared" ]; then
		echo "NOTE: GatewayClass $class declares no supportedFeatures; running the profiles' cores" >&2
		echo "$core_features"
		return
	fi
	echo "${declared// /,}"
}

# --- the suite ---------------------------------------------------------------
run_suite() {
	local features=$1 status=0 usable unusable
	# GatewayStaticAddresses asks for an address Baton can use (the pool's
	# last, which it assigns last) and one it cannot (just past the pool).
	read -r usable unusable < <(pool_edges)
	step "suite: profiles $profiles, features $features"
	rm -f "$out/report.yaml" "$bin/gateway-conformance-report.yaml"
	# A previous run's namespaces may still be terminating; the suite would
	# fail to create objects in them.
	# shellcheck disable=SC2046 # one argument per namespace
	kubectl wait --for=delete --timeout=3m $(kubectl get ns -o name | grep '/gateway-conformance-') 2>/dev/null || true
	# shellcheck disable=SC2086 # CONFORMANCE_ARGS is a list of flags
	(cd hack/conformance/suite && go test -count=1 -timeout "${CONFORMANCE_TIMEOUT:-90m}" -v \
		sigs.k8s.io/gateway-api/conformance -run '^TestConformance$' -args \
		--gateway-class="$class" --conformance-profiles="$profiles" --supported-features="$features" \
		--report-output="$out/report.yaml" --organization=baton-dev --project=baton \
		--url=https://github.com/baton-dev/baton --version="$version" \
		--contact=https://github.com/baton-dev/baton/issues \
		--usable-address="$usable" --unusable-address="$unusable" ${CONFORMANCE_ARGS:-}) >"$out/suite.log" 2>&1 &
	local pid=$!
	# Progress on the terminal, everything in suite.log.
	tail -n +1 --pid="$pid" -f "$out/suite.log" | grep --line-buffered -E 'Test Setup:|^    --- (PASS|FAIL|SKIP)|^--- FAIL' || true
	wait "$pid" || status=$?
	[ -f "$out/report.yaml" ] && cp "$out/report.yaml" "$bin/gateway-conformance-report.yaml"
	hack/conformance/summary.sh "$out/suite.log" | tee "$out/summary.txt"
	step "suite finished (exit $status); log $out/suite.log, report $out/report.yaml"
	return "$status"
}

main() {
	if [ "$(id -u)" != 0 ]; then
		echo "make conformance needs root (the node: mounts, cgroups, routes)" >&2
		exit 2
	fi
	check_pool
	mkdir -p "$out"
	trap finish EXIT
	hack/cluster/build.sh
	if ! node_up; then
		started_node=1
		step "starting the node"
		cluster up
	fi
	(cd hack/conformance/suite && go mod download sigs.k8s.io/gateway-api/conformance sigs.k8s.io/gateway-api)
	local suite_dir gw_dir
	suite_dir=$(cd hack/conformance/suite && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api/conformance)
	gw_dir=$(cd hack/conformance/suite && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
	step "suite images from $suite_dir"
	go run ./hack/conformance/images -root "$root" -suite "$suite_dir"
	step "Gateway API CRDs (standard channel) from $gw_dir"
	kubectl apply --server-side --force-conflicts -f "$gw_dir/config/crd/standard/"
	# shellcheck disable=SC2046 # one argument per CRD
	kubectl wait --for=condition=Established --timeout=60s $(kubectl get crd -o name | grep gateway.networking.k8s.io) >/dev/null
	install_baton
	ensure_gatewayclass
	step "route: $pool local to this host"
	ip route replace local "$pool" dev lo table local
	run_suite "$(supported_features)"
}

main "$@"
