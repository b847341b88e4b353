# Shared by the bench scripts: process cleanup, readiness and the nginx
# backend every proxy under test forwards to. Source it; it sets an EXIT trap.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() { for _ in $(seq 100); do curl -fsS -o /dev/null "http://$1/" 2>/dev/null && return 0; sleep 0.1; done; echo "nothing answers on $1" >&2; return 1; }

# start_backend DIR ADDR CPUS: a one-worker nginx answering 200 "ok" on ADDR,
# pinned to CPUS, with its files in DIR.
start_backend() {
	local dir=$1 addr=$2 cpus=$3
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $dir/nginx.pid;
events { worker_connections 4096; }
http { access_log off;
  server { listen $addr; keepalive_requests 100000;
    location / { return 200 "ok\n"; } } }
CONF
	taskset -c "$cpus" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
	pids+=($!)
	wait_port "$addr"
}
