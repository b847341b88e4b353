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
