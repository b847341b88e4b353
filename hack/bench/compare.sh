#!/usr/bin/env bash
# shellcheck disable=SC2086 # the proxies' pid lists are split into words on purpose
# compare.sh OUT DURATION CONNECTIONS: wrk against Baton, nginx and HAProxy,
# each proxying to the same nginx backend on loopback, in BENCH_ROUNDS rounds
# (see lib.sh). Prints one table.
set -euo pipefail
out=$1 duration=$2 conns=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
# BENCH_PORT_BASE moves the ports (see engine.sh).
port=${BENCH_PORT_BASE:-18000}
backend=127.0.0.1:$port
. "$root/hack/bench/lib.sh"
secs=$(round_secs "$duration")

# The proxies run side by side, each on a port of its own, so that the
# rounds alternate between them without restarts.
declare -A slot=([baton]=0 [baton+log]=1 [nginx]=2 [haproxy]=3) proxy_pids=()
addrs() { front=127.0.0.1:$((port + 80 + 10 * slot[$1])); }

start_nginx() {
	addrs nginx
	write_proxy_nginx "$out/nginx" "$front" "$backend"
	taskset -c 0 nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -e "$out/nginx/error.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids[nginx]="$! $(pgrep -P $! | tr '\n' ' ')"
}

start_haproxy() {
	addrs haproxy
	cat >"$out/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind $front
  http-request set-header X-Forwarded-Proto http
  default_backend be
backend be
  server s1 $backend
CONF
	taskset -c 0 haproxy -db -f "$out/haproxy.cfg" &
	pids+=($!)
	wait_port "$front"
	proxy_pids[haproxy]="$!"
}

# start_baton [NAME FLAGS...]: NAME (default baton) picks the port.
start_baton() {
	local name=${1:-baton}
	addrs "$name"
	taskset -c 0 "$benchproxy" -listen "$front" -backend "$backend" "${@:2}" 2>"$out/$name.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids[$name]="$!"
}

# baton+log: the same with its JSON access log written to a file (the
# others run with access logs off).
start_baton+log() { rm -f "$out/access.log"; start_baton baton+log -access-log "$out/access.log"; }

# measure PROXY ROUND: ROUND "warm" is a 2 s warm-up; otherwise prints
# "keepalive PROXY ROUND rps p99 cpu_us_per_req requests -" (summarize_rounds).
measure() {
	addrs "$1"
	if [ "$2" = warm ]; then taskset -c 1 wrk -t1 -c"$conns" -d2s "http://$front/" >/dev/null; return; fi
	local before after wrkout=$out/$1.$2.wrk
	before=$(cpu_ticks ${proxy_pids[$1]})
	taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "http://$front/" >"$wrkout"
	after=$(cpu_ticks ${proxy_pids[$1]})
	awk -v name="$1" -v round="$2" -v ticks=$((after - before)) -v hz="$tick_hz" '
		/Requests\/sec/ { rps=$2 }
		/^ +99%/ { p99=$2 }
		/requests in/ { n=$1 }
		/Non-2xx|Socket errors/ { bad=bad" "$0 }
		END { printf "keepalive %s %s %.0f %s %.2f %d -%s\n", name, round, rps, p99, (n>0?ticks*1e6/hz/n:0), n, bad }' "$wrkout"
}

start_backend "$out/backend" "$backend" 1
proxies=(baton baton+log nginx haproxy)
for p in "${proxies[@]}"; do "start_$p"; done
for p in "${proxies[@]}"; do measure "$p" warm; done
for ((r = 1; r <= rounds; r++)); do
	for p in $(rotate $((r - 1)) "${proxies[@]}"); do measure "$p" "$r"; done
done >"$out/compare-rounds.txt"
summarize_rounds <"$out/compare-rounds.txt" >"$out/compare-summary.txt"

printf '\n== proxy comparison (%s connections, %s rounds of %ss, proxy pinned to core 0; medians, *-range: least-greatest ratio within one round)\n' "$conns" "$rounds" "$secs"
printf '%-9s %11s %10s %14s %12s %14s %10s %10s %10s\n' proxy req/s p99 cpu-us/req cpu-vs-nginx req/s-vs-nginx p99-vs-ng cpu-range p99-range
awk '{ printf "%-9s %11s %8.2fms %14s %12s %14s %10s %10s %10s%s\n", $2, $3, $4, $5, $6, $9, $10, $7 "-" $8, $11 "-" $12,
	(NF > 14 ? " ERRORS:" substr($0, index($0, " round ")) : "") }' "$out/compare-summary.txt"
