#!/usr/bin/env bash
# compare.sh OUT DURATION CONNECTIONS: wrk against Baton, nginx and HAProxy,
# each proxying to the same nginx backend on loopback. Prints one table.
set -euo pipefail
out=$1 duration=$2 conns=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
# BENCH_PORT_BASE moves the ports (see engine.sh).
port=${BENCH_PORT_BASE:-18000}
backend=127.0.0.1:$port front=127.0.0.1:$((port + 80))
. "$root/hack/bench/lib.sh"


start_nginx() {
	write_proxy_nginx "$out/nginx" "$front" "$backend"
	taskset -c 0 nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -e "$out/nginx/error.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids="$! $(pgrep -P $! | tr '\n' ' ')"
}

start_haproxy() {
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
	proxy_pids="$!"
}

start_baton() {
	taskset -c 0 "$benchproxy" -listen "$front" -backend "$backend" "$@" &
	pids+=($!)
	wait_port "$front"
	proxy_pids="$!"
}

# baton+log: the same with its JSON access log written to a file (the
# others run with access logs off).
start_baton+log() { rm -f "$out/access.log"; start_baton -access-log "$out/access.log"; }

stop_proxy() { for p in $proxy_pids; do kill "$p" 2>/dev/null || true; done; sleep 0.5; }

# measure NAME: prints "NAME rps p99 cpu_us_per_req".
measure() {
	taskset -c 1 wrk -t1 -c"$conns" -d2s "http://$front/" >/dev/null # warm-up
	local before after
	before=$(cpu_ticks $proxy_pids)
	taskset -c 1 wrk -t1 -c"$conns" -d"$duration" --latency "http://$front/" >"$out/$1.wrk"
	after=$(cpu_ticks $proxy_pids)
	awk -v name="$1" -v ticks=$((after - before)) -v hz="$tick_hz" '
		/Requests\/sec/ { rps=$2 }
		/^ +99%/ { p99=$2 }
		/requests in/ { n=$1 }
		/Non-2xx|Socket errors/ { bad=bad" "$0 }
		END { printf "%s %.0f %s %.2f %d%s\n", name, rps, p99, ticks*1e6/hz/n, n, bad }' "$out/$1.wrk"
}

start_backend "$out/backend" "$backend" 1
results=()
for p in baton baton+log nginx haproxy; do
	"start_$p"
	results+=("$(measure "$p")")
	stop_proxy
done

printf '\n== proxy comparison (%s connections, %s, proxy pinned to core 0)\n' "$conns" "$duration"
printf '%-8s %12s %10s %14s %12s %14s\n' proxy req/s p99 cpu-us/req cpu-vs-nginx req/s-vs-nginx
nginx_line=$(printf '%s\n' "${results[@]}" | awk '$1=="nginx"')
for r in "${results[@]}"; do
	awk -v ng="$nginx_line" 'BEGIN{split(ng,n," ")} {printf "%-8s %12s %10s %14s %12.2f %14.2f %s\n", $1, $2, $3, $4, $4/n[4], $2/n[2], ($6!=""?"ERRORS:"$6" "$7" "$8:"")}' <<<"$r"
done
