#!/usr/bin/env bash
# shellcheck disable=SC2086 # the proxies' pid lists are split into words on purpose
# engine.sh OUT DURATION CONNECTIONS: the scenarios of issue #14 (Baton's own
# HTTP/1.1 engine), Baton's data plane against nginx in the same run, each
# proxying to the same nginx backend on loopback, each case in BENCH_ROUNDS
# rounds (lib.sh). Prints one table with medians and ratios to nginx, then
# the memory an idle keep-alive client costs each (one measurement).
set -euo pipefail
out=$1 duration=$2 conns=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
# BENCH_PORT_BASE moves the ports, so that runs of several worktrees on one
# machine do not collide; BENCH_CASES picks cases (default: all).
port=${BENCH_PORT_BASE:-18000}
backend=127.0.0.1:$port
mallocs=127.0.0.1:$((port + 79)) # Baton's allocation count (benchproxy -mallocs-addr)
cases=${BENCH_CASES:-keepalive conn-close resp-64k upload-1m tls-h1 h2c h2-tls}
idle=${BENCH_IDLE_CONNECTIONS:-5000} # 0 skips the idle case
dir=$out/engine
mkdir -p "$dir"
. "$root/hack/bench/lib.sh"
secs=$(round_secs "$duration")

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.local \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
cat >"$dir/upload.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = string.rep("x", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA

# A case's proxies run side by side, each on ports of its own (all within
# BENCH_PORT_BASE+200), so that the rounds alternate between them without
# restarts; the idle ones cost nothing measurable on the shared core.
declare -A slot=([baton]=0 [nginx]=1 [bare]=2) proxy_pids=() h2c_url=()
# addrs PROXY: sets front, h2cfront and tlsfront to PROXY's addresses.
addrs() {
	local b=$((port + 80 + 10 * slot[$1]))
	front=127.0.0.1:$b h2cfront=127.0.0.1:$((b + 1)) tlsfront=127.0.0.1:$((b + 2))
}

# nginx: the config compare.sh uses too (lib.sh), with h2c and TLS. nginx
# 1.22 serves h2c on a port of its own; Baton tells h2c from HTTP/1 by preface.
start_nginx() {
	addrs nginx
	write_proxy_nginx "$dir" "$front" "$backend" "listen $h2cfront http2; listen $tlsfront ssl http2;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;"
	taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids[nginx]="$! $(pgrep -P $! | tr '\n' ' ')"
	h2c_url[nginx]="http://$h2cfront/"
}

start_baton() {
	addrs baton
	taskset -c 0 "$benchproxy" -listen "$front" -backend "$backend" \
		-listen-tls "$tlsfront" -tls-cert "$dir/cert.pem" -tls-key "$dir/key.pem" -mallocs-addr "$mallocs" 2>"$dir/baton.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids[baton]="$!"
	h2c_url[baton]="http://$front/"
}

# start_bare: the floor, a bare Go keep-alive proxy (hack/bench/bareproxy),
# for the keep-alive case only: what Baton costs beyond it is Baton's.
start_bare() {
	addrs bare
	taskset -c 0 "$root/bin/baton-bareproxy" -listen "$front" -backend "$backend" 2>"$dir/bare.log" &
	pids+=($!)
	wait_port "$front"
	proxy_pids[bare]="$!"
}

# stop_proxies PROXY...: waits for the processes to go, so that the next
# case's proxies can bind.
stop_proxies() {
	local p q
	for p in "$@"; do for q in ${proxy_pids[$p]}; do kill "$q" 2>/dev/null || true; done; done
	for p in "$@"; do for q in ${proxy_pids[$p]}; do
		for _ in $(seq 100); do kill -0 "$q" 2>/dev/null || break; sleep 0.1; done
	done; done
}

# mallocs_count PROXY: Baton's heap allocation count so far (the whole
# process: the engine, routing, forwarding and the runtime's own), or -.
mallocs_count() {
	[ "$1" = baton ] && curl -fsS "http://$mallocs/" 2>/dev/null || echo - # a build without the flag
}

# mallocs_delta BEFORE AFTER: the increase, or - if either is unknown.
mallocs_delta() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else echo $(($2 - $1)); fi; }

# wrk_case PROXY CASE ROUND URL [WRK ARGS]: ROUND "warm" is a 2 s warm-up;
# otherwise one run of $secs, printed as "CASE PROXY ROUND rps p99
# cpu_us_per_req requests mallocs [errors]" (see summarize_rounds).
wrk_case() {
	local proxy=$1 name=$2 round=$3 url=$4; shift 4
	if [ "$round" = warm ]; then taskset -c 1 wrk -t1 -c"$conns" -d2s "$@" "$url" >/dev/null; return; fi
	local before after ub ua mb ma out=$dir/$name.$proxy.$round.wrk
	before=$(cpu_ticks ${proxy_pids[$proxy]}) ub=$(user_ticks ${proxy_pids[$proxy]})
	mb=$(mallocs_count "$proxy")
	taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" "$url" >"$out"
	ma=$(mallocs_count "$proxy")
	after=$(cpu_ticks ${proxy_pids[$proxy]}) ua=$(user_ticks ${proxy_pids[$proxy]})
	note_user "$name" "$proxy" "$round" $((after - before)) $((ua - ub)) "$(awk '/requests in/ { print $1 }' "$out")"
	awk -v name="$name" -v proxy="$proxy" -v round="$round" -v ticks=$((after - before)) -v hz="$tick_hz" -v mal="$(mallocs_delta "$mb" "$ma")" '
		/Requests\/sec/ { rps=$2 }
		/^ +99%/ { p99=$2 }
		/requests in/ { n=$1 }
		/Non-2xx|Socket errors/ { bad=bad" "$0 }
		END { printf "%s %s %s %.0f %s %.2f %d %s%s\n", name, proxy, round, rps, p99, (n>0?ticks*1e6/hz/n:0), n, mal, bad }' "$out"
}

# h2_case PROXY CASE ROUND URL: the same with h2load, 32 connections x 8
# streams; p99 from its per-request log.
h2_case() {
	local proxy=$1 name=$2 round=$3 url=$4
	if [ "$round" = warm ]; then taskset -c 1 h2load -t1 -c"$conns" -m8 -D 2 "$url" >/dev/null; return; fi
	local before after ub ua mb ma out=$dir/$name.$proxy.$round
	before=$(cpu_ticks ${proxy_pids[$proxy]}) ub=$(user_ticks ${proxy_pids[$proxy]})
	mb=$(mallocs_count "$proxy")
	taskset -c 1 h2load -t1 -c"$conns" -m8 -D "$secs" --log-file="$out.log" "$url" >"$out.h2load"
	ma=$(mallocs_count "$proxy")
	after=$(cpu_ticks ${proxy_pids[$proxy]}) ua=$(user_ticks ${proxy_pids[$proxy]})
	note_user "$name" "$proxy" "$round" $((after - before)) $((ua - ub)) "$(awk '/^requests:/ { print $8 }' "$out.h2load")"
	local p99
	p99=$(cut -f3 "$out.log" | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2fms", v[i]/1000}')
	awk -v name="$name" -v proxy="$proxy" -v round="$round" -v ticks=$((after - before)) -v hz="$tick_hz" -v p99="$p99" -v mal="$(mallocs_delta "$mb" "$ma")" '
		/^finished in/ { rps=$4 }
		/^requests:/ { n=$8; if ($10+$12+$14 > 0) bad=" failed/errored/timeout " $10 "/" $12 "/" $14 }
		/^status codes:/ { if ($5+$7+$9 > 0) bad=bad " 3xx/4xx/5xx " $5 "/" $7 "/" $9 }
		END { printf "%s %s %s %.0f %s %.2f %d %s%s\n", name, proxy, round, rps, p99, (n>0?ticks*1e6/hz/n:0), n, mal, bad }' "$out.h2load"
}

# measure PROXY CASE ROUND: one run of CASE against PROXY.
measure() {
	local p=$1 c=$2 r=$3
	addrs "$p"
	case $c in
	keepalive) wrk_case "$p" "$c" "$r" "http://$front/" ;;
	conn-close) wrk_case "$p" "$c" "$r" "http://$front/" -H "Connection: close" ;;
	resp-64k) wrk_case "$p" "$c" "$r" "http://$front/64k" ;;
	upload-1m) wrk_case "$p" "$c" "$r" "http://$front/upload/body" -s "$dir/upload.lua" ;;
	tls-h1) wrk_case "$p" "$c" "$r" "https://$tlsfront/" ;;
	tls-64k) wrk_case "$p" "$c" "$r" "https://$tlsfront/64k" ;; # not by default
	h2c) h2_case "$p" "$c" "$r" "${h2c_url[$p]}" ;;
	h2-tls) h2_case "$p" "$c" "$r" "https://$tlsfront/" ;;
	esac
}

# run_case CASE PROXY...: starts the proxies, warms each up, then runs the
# rounds, the order rotating so that each proxy takes each place in turn.
run_case() {
	local c=$1 p r; shift
	for p in "$@"; do "start_$p"; done
	for p in "$@"; do measure "$p" "$c" warm; done
	for ((r = 1; r <= rounds; r++)); do
		for p in $(rotate $((r - 1)) "$@"); do measure "$p" "$c" "$r"; done
	done
	stop_proxies "$@"
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
	before=$(rss_kib ${proxy_pids[$p]})
	rm -f "$hold"; mkfifo "$hold"
	# The clients hold their connections until the fifo's writer closes.
	taskset -c 1 "$root/bin/baton-idleclients" -addr "$front" -n "$idle" <"$hold" >"$dir/idle.$p.out" &
	local client=$!
	exec {holder}>"$hold"
	for _ in $(seq 600); do grep -q ready "$dir/idle.$p.out" && break; kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
	sleep 2
	after=$(rss_kib ${proxy_pids[$p]})
	exec {holder}>&-
	wait "$client" || { echo "idle clients failed against $p" >&2; after=$before; }
	stop_proxies "$p"
	awk -v p="$p" -v b="$before" -v a="$after" -v n="$idle" 'BEGIN { printf "%s %d %d %.2f\n", p, b, a, (a-b)/n }'
}

go build -o "$root/bin/baton-idleclients" "$root/hack/bench/idleclients"
go build -o "$root/bin/baton-bareproxy" "$root/hack/bench/bareproxy"
start_backend "$dir/backend" "$backend" 1
rm -f "$dir/user-rounds.txt"
# Case by case, all proxies of the case in every round: the machine's load
# drifts over minutes, and the figures of a case are compared, so they are
# taken together, and more than once.
for c in $cases; do
	if [ "$c" = keepalive ]; then run_case "$c" baton nginx bare; else run_case "$c" baton nginx; fi
done >"$dir/rounds.txt"
summarize_rounds <"$dir/rounds.txt" >"$dir/summary.txt"

printf '\n== issue #14 engine cases: Baton data plane vs nginx; bare: a bare Go keep-alive proxy, the floor (%s connections, h2: x8 streams, %s rounds of %ss, proxy pinned to core 0)\n' "$conns" "$rounds" "$secs"
printf '   medians over the rounds; *-vs-nginx: ratio of the medians; *-range: least-greatest ratio within one round (per round: %s)\n' "$dir/rounds.txt"
printf '%-11s %-6s %10s %10s %11s %12s %14s %10s %10s %10s\n' case proxy req/s p99 cpu-us/req cpu-vs-nginx req/s-vs-nginx p99-vs-ng cpu-range p99-range
awk '{ printf "%-11s %-6s %10s %8.2fms %11s %12s %14s %10s %10s %10s%s\n", $1, $2, $3, $4, $5, $6, $9, $10, $7 "-" $8, $11 "-" $12,
	(NF > 14 ? " ERRORS:" substr($0, index($0, " round ")) : "") }' "$dir/summary.txt"

printf '\n== issue #14 CPU per request split (medians over the rounds): user is the proxy'"'"'s own code; system, the kernel'"'"'s socket work\n'
printf '%-11s %-6s %12s %12s %14s\n' case proxy user-us/req sys-us/req user-vs-nginx
print_user_split

printf '\n== issue #14 Baton heap allocations per request under load (whole process, runtime.MemStats.Mallocs, all rounds)\n'
awk '$2 == "baton" && $14 != "-" { printf "%-11s %8.2f allocs/req\n", $1, $14 }' "$dir/summary.txt"

[ "$idle" -gt 0 ] || exit 0
printf '\n== issue #14 memory per idle keep-alive connection (%s clients, one request each, then idle)\n' "$idle"
printf '%-6s %14s %14s %12s\n' proxy rss-before-kib rss-after-kib kib-per-conn
for p in baton nginx; do
	idle_case "$p" | awk '{ printf "%-6s %14s %14s %12s\n", $1, $2, $3, $4 }'
done
