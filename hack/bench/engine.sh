#!/usr/bin/env bash
# engine.sh OUT DURATION CONNECTIONS: the scenarios of issue #14 (Baton's own
# HTTP/1.1 engine), Baton's data plane against nginx in the same run, each
# proxying to the same nginx backend on loopback. Prints one table with
# ratios to nginx, then the memory an idle keep-alive client costs each.
set -euo pipefail
out=$1 duration=$2 conns=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
# BENCH_PORT_BASE moves the ports, so that runs of several worktrees on one
# machine do not collide; BENCH_CASES picks cases (default: all).
port=${BENCH_PORT_BASE:-18000}
backend=127.0.0.1:$port front=127.0.0.1:$((port + 80)) tlsfront=127.0.0.1:$((port + 443)) h2cfront=127.0.0.1:$((port + 82))
mallocs=127.0.0.1:$((port + 90)) # Baton's allocation count (benchproxy -mallocs-addr)
cases=${BENCH_CASES:-keepalive conn-close resp-64k upload-1m tls-h1 h2c h2-tls}
idle=${BENCH_IDLE_CONNECTIONS:-5000} # 0 skips the idle case
dir=$out/engine
mkdir -p "$dir"
. "$root/hack/bench/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.local \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
cat >"$dir/upload.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = string.rep("x", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA

# nginx: the config compare.sh uses too (lib.sh), with h2c and TLS. nginx
# 1.22 serves h2c on a port of its own; Baton tells h2c from HTTP/1 by preface.
start_nginx() {
	write_proxy_nginx "$dir" "$front" "$backend" "listen $h2cfront http2; listen $tlsfront ssl http2;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;"
	taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids="$! $(pgrep -P $! | tr '\n' ' ')"
	h2c_url="http://$h2cfront/"
}

start_baton() {
	taskset -c 0 "$benchproxy" -listen "$front" -backend "$backend" \
		-listen-tls "$tlsfront" -tls-cert "$dir/cert.pem" -tls-key "$dir/key.pem" -mallocs-addr "$mallocs" 2>"$dir/baton.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids="$!"
	h2c_url="http://$front/"
}

# start_bare: the floor, a bare Go keep-alive proxy (hack/bench/bareproxy),
# for the keep-alive case only: what Baton costs beyond it is Baton's.
start_bare() {
	taskset -c 0 "$root/bin/baton-bareproxy" -listen "$front" -backend "$backend" 2>"$dir/bare.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids="$!"
}

# stop_proxy waits for the processes to go, so that the next proxy can bind.
stop_proxy() {
	local p
	for p in $proxy_pids; do kill "$p" 2>/dev/null || true; done
	for p in $proxy_pids; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
}

# mallocs_mark PROXY CASE WHEN: Baton's heap allocation count, kept in a
# file, for allocations per request under load (the whole process: the
# engine, routing, forwarding and the runtime's own).
mallocs_mark() {
	[ "$1" = baton ] || return 0
	curl -fsS "http://$mallocs/" >"$dir/$2.mallocs.$3" 2>/dev/null || echo - >"$dir/$2.mallocs.$3" # a build without the flag
}

# wrk_case PROXY CASE URL [WRK ARGS]: prints "CASE PROXY rps p99 cpu_us_per_req requests errors".
wrk_case() {
	local proxy=$1 name=$2 url=$3; shift 3
	taskset -c 1 wrk -t1 -c"$conns" -d2s "$@" "$url" >/dev/null # warm-up
	local before after
	before=$(cpu_ticks $proxy_pids)
	mallocs_mark "$proxy" "$name" before
	taskset -c 1 wrk -t1 -c"$conns" -d"$duration" --latency "$@" "$url" >"$dir/$name.$proxy.wrk"
	mallocs_mark "$proxy" "$name" after
	after=$(cpu_ticks $proxy_pids)
	awk -v name="$name" -v proxy="$proxy" -v ticks=$((after - before)) -v hz="$tick_hz" '
		/Requests\/sec/ { rps=$2 }
		/^ +99%/ { p99=$2 }
		/requests in/ { n=$1 }
		/Non-2xx|Socket errors/ { bad=bad" "$0 }
		END { printf "%s %s %.0f %s %.2f %d%s\n", name, proxy, rps, p99, ticks*1e6/hz/n, n, bad }' "$dir/$name.$proxy.wrk"
}

# h2_case PROXY CASE URL: the same with h2load, 32 connections x 8 streams;
# p99 from its per-request log. h2load takes seconds: DURATION like "10s".
h2_case() {
	local proxy=$1 name=$2 url=$3 secs=${duration%s}
	taskset -c 1 h2load -t1 -c"$conns" -m8 -D 2 "$url" >/dev/null # warm-up
	local before after
	before=$(cpu_ticks $proxy_pids)
	mallocs_mark "$proxy" "$name" before
	taskset -c 1 h2load -t1 -c"$conns" -m8 -D "$secs" --log-file="$dir/$name.$proxy.log" "$url" >"$dir/$name.$proxy.h2load"
	mallocs_mark "$proxy" "$name" after
	after=$(cpu_ticks $proxy_pids)
	local p99
	p99=$(cut -f3 "$dir/$name.$proxy.log" | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2fms", v[i]/1000}')
	awk -v name="$name" -v proxy="$proxy" -v ticks=$((after - before)) -v hz="$tick_hz" -v p99="$p99" '
		/^finished in/ { rps=$4 }
		/^requests:/ { n=$8; if ($10+$12+$14 > 0) bad=" failed/errored/timeout " $10 "/" $12 "/" $14 }
		/^status codes:/ { if ($5+$7+$9 > 0) bad=bad " 3xx/4xx/5xx " $5 "/" $7 "/" $9 }
		END { printf "%s %s %.0f %s %.2f %d%s\n", name, proxy, rps, p99, (n>0?ticks*1e6/hz/n:0), n, bad }' "$dir/$name.$proxy.h2load"
}

run_cases() {
	local p=$1 c
	for c in $cases; do
		case $c in
		keepalive) wrk_case "$p" keepalive "http://$front/" ;;
		conn-close) wrk_case "$p" conn-close "http://$front/" -H "Connection: close" ;;
		resp-64k) wrk_case "$p" resp-64k "http://$front/64k" ;;
		upload-1m) wrk_case "$p" upload-1m "http://$front/upload/body" -s "$dir/upload.lua" ;;
		tls-h1) wrk_case "$p" tls-h1 "https://$tlsfront/" ;;
		tls-64k) wrk_case "$p" tls-64k "https://$tlsfront/64k" ;; # not by default
		h2c) h2_case "$p" h2c "$h2c_url" ;;
		h2-tls) h2_case "$p" h2-tls "https://$tlsfront/" ;;
		esac
	done
}

# rss_kib PID...: resident memory of the processes.
rss_kib() { local t=0 p; for p in "$@"; do t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo "$t"; }

# idle_case PROXY: RSS before and after $idle clients made one request each
# and stayed connected; prints "PROXY before_kib after_kib kib_per_conn".
idle_case() {
	local p=$1 before after hold="$dir/idle.$1.fifo"
	"start_$p" >&2
	curl -fsS -o /dev/null "http://$front/"
	sleep 1
	before=$(rss_kib $proxy_pids)
	rm -f "$hold"; mkfifo "$hold"
	# The clients hold their connections until the fifo's writer closes.
	taskset -c 1 "$root/bin/baton-idleclients" -addr "$front" -n "$idle" <"$hold" >"$dir/idle.$p.out" &
	local client=$!
	exec {holder}>"$hold"
	for _ in $(seq 600); do grep -q ready "$dir/idle.$p.out" && break; kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
	sleep 2
	after=$(rss_kib $proxy_pids)
	exec {holder}>&-
	wait "$client" || { echo "idle clients failed against $p" >&2; after=$before; }
	stop_proxy
	awk -v p="$p" -v b="$before" -v a="$after" -v n="$idle" 'BEGIN { printf "%s %d %d %.2f\n", p, b, a, (a-b)/n }'
}

go build -o "$root/bin/baton-idleclients" "$root/hack/bench/idleclients"
go build -o "$root/bin/baton-bareproxy" "$root/hack/bench/bareproxy"
start_backend "$dir/backend" "$backend" 1
results=()
# Case by case, Baton then nginx: the machine's load drifts over minutes,
# and the two figures of a case are compared, so they are taken together.
for c in $cases; do
	proxies="baton nginx"
	if [ "$c" = keepalive ]; then proxies="baton bare nginx"; fi
	for p in $proxies; do
		"start_$p"
		mapfile -t -O "${#results[@]}" results < <(cases=$c run_cases "$p")
		stop_proxy
	done
done

printf '\n== issue #14 engine cases: Baton data plane vs nginx; bare: a bare Go keep-alive proxy, the floor (%s connections, h2: x8 streams, %s, proxy pinned to core 0)\n' "$conns" "$duration"
printf '%-11s %-6s %10s %10s %11s %12s %14s %10s\n' case proxy req/s p99 cpu-us/req cpu-vs-nginx req/s-vs-nginx p99-vs-ng
for r in "${results[@]}"; do
	name=${r%% *}
	ng=$(printf '%s\n' "${results[@]}" | awk -v c="$name" '$1==c && $2=="nginx"')
	awk -v ng="$ng" 'function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
		BEGIN { split(ng, n, " ") }
		{ printf "%-11s %-6s %10s %10s %11s %12.2f %14.2f %10.2f %s\n", $1, $2, $3, $4, $5, $5/n[5], $3/n[3], ms($4)/ms(n[4]), ($7!="" ? "ERRORS:" substr($0, index($0, $7)) : "") }' <<<"$r"
done

printf '\n== issue #14 Baton heap allocations per request under load (whole process, runtime.MemStats.Mallocs)\n'
for r in "${results[@]}"; do
	read -r name proxy _ _ _ n _ <<<"$r"
	[ "$proxy" = baton ] && [ "$n" -gt 0 ] && ! grep -qx -- - "$dir/$name.mallocs.before" || continue
	awk -v c="$name" -v n="$n" -v b="$(cat "$dir/$name.mallocs.before")" -v a="$(cat "$dir/$name.mallocs.after")" \
		'BEGIN { printf "%-11s %8.2f allocs/req\n", c, (a-b)/n }'
done

[ "$idle" -gt 0 ] || exit 0
printf '\n== issue #14 memory per idle keep-alive connection (%s clients, one request each, then idle)\n' "$idle"
printf '%-6s %14s %14s %12s\n' proxy rss-before-kib rss-after-kib kib-per-conn
for p in baton nginx; do
	idle_case "$p" | awk '{ printf "%-6s %14s %14s %12s\n", $1, $2, $3, $4 }'
done
