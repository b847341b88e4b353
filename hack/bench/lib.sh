# shellcheck shell=bash disable=SC2034 # benchproxy and tick_hz are for the scripts that source this
# Shared by the bench scripts: process cleanup, readiness and the nginx
# backend every proxy under test forwards to. Source it; it sets an EXIT trap.
pids=()
uploads=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "$uploads" ]; then rm -rf "$uploads"; fi
}
trap cleanup EXIT

wait_port() { for _ in $(seq 100); do curl -fsS -o /dev/null "http://$1/" 2>/dev/null && return 0; sleep 0.1; done; echo "nothing answers on $1" >&2; return 1; }

# BATON_BENCHPROXY picks another build of hack/bench/proxy (before/after).
benchproxy=${BATON_BENCHPROXY:-$root/bin/baton-benchproxy}

tick_hz=$(getconf CLK_TCK)
# cpu_ticks PID...: utime+stime of the processes, threads included.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
# user_ticks PID...: utime alone: the proxy's own code, where the kernel's
# share (stime: sockets, epoll) is about the same for every proxy here.
user_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14}' "/proc/$p/stat"))); done; echo "$t"; }

# note_user CASE PROXY ROUND TICKS UTICKS REQUESTS: appends a round's CPU
# and user CPU per request to $dir/user-rounds.txt (print_user_split).
note_user() {
	awk -v c="$1" -v p="$2" -v r="$3" -v t="$4" -v u="$5" -v n="$6" -v hz="$tick_hz" \
		'BEGIN { if (n > 0) printf "%s %s %s %.2f %.2f\n", c, p, r, t * 1e6 / hz / n, u * 1e6 / hz / n }' >>"$dir/user-rounds.txt"
}

# print_user_split: per case and proxy, the medians over the rounds of the
# user and the system CPU per request, and the user CPU's ratio to nginx's.
print_user_split() {
	awk '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ k = $1 SUBSEP $2; if (!(k in u)) order[++nk] = k; u[k] = u[k] " " $5; sy[k] = sy[k] " " ($4 - $5) }
	END {
		for (x = 1; x <= nk; x++) {
			k = order[x]; split(k, f, SUBSEP); g = f[1] SUBSEP "nginx"
			mu = median(u[k]); ng = (g in u) ? median(u[g]) : 0
			printf "%-11s %-6s %12.2f %12.2f %14s\n", f[1], f[2], mu, median(sy[k]), (ng > 0 ? sprintf("%.2f", mu / ng) : "-")
		}
	}' "$dir/user-rounds.txt"
}

# start_backend DIR ADDR CPUS: a one-worker nginx answering 200 "ok" on ADDR
# (/64k: 64 KiB; PUT /upload/NAME stores a body in memory, read whole before
# the answer as an application would), pinned to CPUS, with its files in DIR.
start_backend() {
	local dir=$1 addr=$2 cpus=$3
	mkdir -p "$dir"
	head -c 65536 /dev/zero | tr '\0' x >"$dir/64k"
	uploads=$(mktemp -d /dev/shm/baton-bench.XXXXXX)
	mkdir -p "$uploads/upload" "$uploads/tmp"
	chmod -R a+rwx "$uploads" # nginx workers run as an unprivileged user
	cat >"$dir/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $dir/nginx.pid;
events { worker_connections 4096; }
http { access_log off; default_type application/octet-stream;
  server { listen $addr; keepalive_requests 100000; client_max_body_size 2m;
    location = /64k { root $dir; }
    location /upload/ { root $uploads; dav_methods PUT; client_body_temp_path $uploads/tmp; }
    location / { return 200 "ok\n"; } } }
CONF
	taskset -c "$cpus" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
	pids+=($!)
	wait_port "$addr"
}

# write_proxy_nginx DIR FRONT BACKEND [SERVER DIRECTIVES]: the nginx every
# bench compares Baton with, in DIR/nginx.conf: one worker, a keep-alive
# upstream, the forwarding headers Baton sets, streamed uploads (no request
# buffering, as Baton). compare.sh and engine.sh use this one config, so
# that their nginx figures are of the same thing; the directives (more
# listeners, TLS) go in the server block.
write_proxy_nginx() {
	local dir=$1 front=$2 backend=$3 extra=${4:-}
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $dir/nginx.pid; worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http { access_log off;
  upstream be { server $backend; keepalive 64; keepalive_requests 100000; }
  server { listen $front; $extra
    keepalive_requests 100000; client_max_body_size 2m;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme; proxy_set_header X-Forwarded-Host \$host; } } }
CONF
}

# Rounds (engine.sh, compare.sh): the machine's load drifts within minutes,
# so one run per proxy cannot tell a 10 % difference from the drift. Each
# case runs BENCH_ROUNDS rounds, all its proxies once per round, in an order
# that rotates between rounds, with DURATION split between the rounds; the
# tables give medians and the spread of the per-round ratios.
rounds=${BENCH_ROUNDS:-3}

# round_secs DURATION: seconds of one round's run (wrk and h2load take whole
# seconds), at least 1. DURATION: "10s", "10" or "1m".
round_secs() {
	local d=$1 s
	case $d in *m) s=$((${d%m} * 60)) ;; *s) s=${d%s} ;; *) s=$d ;; esac
	s=$(((s + rounds / 2) / rounds))
	echo $((s < 1 ? 1 : s))
}

# rotate N WORD...: the words from the (N mod count)th on, then the rest,
# so that each proxy takes each place in turn over the rounds.
rotate() {
	local n=$1; shift
	local words=("$@") i
	n=$((n % ${#words[@]}))
	for ((i = 0; i < ${#words[@]}; i++)); do printf '%s ' "${words[(i + n) % ${#words[@]}]}"; done
}

# summarize_rounds: reads lines "CASE PROXY ROUND rps p99 cpu_us_per_req
# requests mallocs [errors]" (mallocs: the count's increase, or -) and prints
# per case and proxy, in the order first seen: "CASE PROXY rps p99_ms cpu
# cpu_vs_nginx cpu_lo cpu_hi rps_vs_nginx p99_vs_nginx p99_lo p99_hi requests
# mallocs_per_req [errors]". rps, p99 and cpu are medians over the rounds;
# the ratios divide medians by nginx's of the same case; lo and hi are the
# least and greatest ratio of the same round's figures ("-" without nginx).
summarize_rounds() {
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v + 0 }
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
	# spread C P WHAT: "lo hi" of the per-round ratios of P to nginx in case C.
	function spread(c, p, what,   n, rs, i, x, lo, hi) {
		n = split(rounds[c, p], rs, " ")
		for (i = 1; i <= n; i++) {
			if (!((c, "nginx", rs[i]) in cpu) || fig[c, "nginx", rs[i], what] <= 0) continue
			x = fig[c, p, rs[i], what] / fig[c, "nginx", rs[i], what]
			if (lo == "" || x < lo) lo = x
			if (hi == "" || x > hi) hi = x
		}
		return lo == "" ? "- -" : sprintf("%.2f %.2f", lo, hi)
	}
	{
		k = $1 SUBSEP $2
		if (!(k in seen)) { seen[k]; order[++nk] = k }
		rounds[k] = rounds[k] " " $3
		cpu[$1, $2, $3]; fig[$1, $2, $3, "cpu"] = $6; fig[$1, $2, $3, "p99"] = ms($5)
		rpss[k] = rpss[k] " " $4; p99s[k] = p99s[k] " " ms($5); cpus[k] = cpus[k] " " $6
		n[k] += $7
		if ($8 == "-") nomal[k] = 1; else mal[k] += $8
		if (NF > 8) { e = $0; for (j = 0; j < 8; j++) sub(/^[^ ]+ +/, "", e); err[k] = err[k] " round " $3 ": " e }
	}
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, f, SUBSEP); g = f[1] SUBSEP "nginx"
			ng = (g in seen)
			printf "%s %s %.0f %.2f %.2f %s %s %s %s %s %d %s%s\n", f[1], f[2],
				median(rpss[k]), median(p99s[k]), median(cpus[k]),
				ng ? ratio(median(cpus[k]), median(cpus[g])) : "-", spread(f[1], f[2], "cpu"),
				ng ? ratio(median(rpss[k]), median(rpss[g])) : "-",
				ng ? ratio(median(p99s[k]), median(p99s[g])) : "-", spread(f[1], f[2], "p99"),
				n[k], (nomal[k] || n[k] == 0) ? "-" : sprintf("%.2f", mal[k] / n[k]), err[k]
		}
	}'
}
