#!/usr/bin/env bash
# reload.sh OUT: wrk at constant concurrency through a proxy that is
# replaced twice mid-run: Baton by listener handoff to a new process, nginx
# by `nginx -s reload`. Prints the errors wrk saw for each.
set -euo pipefail
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
backend=127.0.0.1:18000 front=127.0.0.1:18081
mkdir -p "$out/reload"
. "$root/hack/bench/lib.sh"

start_backend "$out/reload/backend" "$backend" 0-1

errors() { awk '/requests in/ {n=$1} /Socket errors/ {se=$0} /Non-2xx/ {bad=$NF} END {printf "%s requests, non-2xx %s, %s\n", n, (bad==""?0:bad), (se==""?"socket errors: none":se)}' "$1"; }

# Baton: three generations of the bench proxy on one handoff socket.
sock="$out/reload/baton.sock"; rm -f "$sock"
"$root/bin/baton-benchproxy" -listen "$front" -backend "$backend" -handoff-socket "$sock" 2>"$out/reload/baton1.log" & pids+=($!)
wait_port "$front"
wrk -t1 -c32 -d6s "http://$front/" >"$out/reload/baton.wrk" & wrk_pid=$!
for gen in 2 3; do
	sleep 2
	"$root/bin/baton-benchproxy" -listen "$front" -backend "$backend" -handoff-socket "$sock" 2>"$out/reload/baton$gen.log" & pids+=($!)
done
wait $wrk_pid
kill "${pids[-1]}"; sleep 0.5

cat >"$out/reload/nginx.conf" <<CONF
worker_processes 1; pid $out/reload/nginx.pid;
events { worker_connections 4096; }
http { access_log off; upstream be { server $backend; keepalive 64; }
  server { listen $front; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
nginx -p "$out/reload" -c "$out/reload/nginx.conf" -e "$out/reload/nginx.err"
wait_port "$front"
wrk -t1 -c32 -d6s "http://$front/" >"$out/reload/nginx.wrk" & wrk_pid=$!
for _ in 1 2; do sleep 2; nginx -p "$out/reload" -c "$out/reload/nginx.conf" -e "$out/reload/nginx.err" -s reload; done
wait $wrk_pid
nginx -p "$out/reload" -c "$out/reload/nginx.conf" -e "$out/reload/nginx.err" -s quit

printf '\n== replacing the proxy twice under load (32 connections, 6s)\n'
printf 'baton handoff:   %s\n' "$(errors "$out/reload/baton.wrk")"
printf 'nginx -s reload: %s\n' "$(errors "$out/reload/nginx.wrk")"
