#!/usr/bin/env bash
# Gateway throughput: wrk on GET /healthz against `orderly up` and against
# nginx (nginx-light, a fixed 200 from a location block), side by side in one
# run, alternating ROUNDS times, -t2 -c64. Both on 127.0.0.1, access logs off.
#
#   bench/gateway.sh            # writes bench/results/<date>-gateway-vs-nginx.md
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
stamp=$(date -u +%Y-%m-%d)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

"$BUILD/bin/orderly" up --port 0 --data-dir "$work/data" --log-level warn --rate-limit 1000000000 \
  --rate-burst 1000000000 > "$work/up.out" 2> "$work/up.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/up.err" 2>/dev/null && break; sleep 0.1; done
orderly_url=$(grep -oP 'listening on \K\S+' "$work/up.err")
sleep 0.5

rps() { wrk -t2 -c64 -d"$DURATION" --latency "$1/healthz" | tee -a "$work/wrk.log" | awk '/Requests\/sec/{print $2}'; }

declare -a o_runs n_runs
for r in $(seq "$ROUNDS"); do
  o_runs+=("$(rps "$orderly_url")")
  n_runs+=("$(rps "http://127.0.0.1:$nginx_port")")
done
best() { printf '%s\n' "$@" | sort -g | tail -1; }
o=$(best "${o_runs[@]}"); n=$(best "${n_runs[@]}")
ratio=$(python3 -c "print(f'{$o/$n:.2f}')")
out=bench/results/$stamp-gateway-vs-nginx.md
{
  echo "# Gateway vs nginx: GET /healthz"
  echo
  echo "Command: \`bench/gateway.sh\` (ROUNDS=$ROUNDS, DURATION=$DURATION): \`wrk -t2 -c64 -d$DURATION --latency\`"
  echo "against \`orderly up --log-level warn\` (2 HTTP threads) and nginx $(nginx -v 2>&1 | cut -d/ -f2)"
  echo "(nginx-light, worker_processes 2, \`return 200\`), alternating, best of $ROUNDS each."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
  echo "- date: $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
  echo "- note: wrk, the server and the other server share the same 2 cores"
  echo
  echo "| server | requests/s (runs) | best |"
  echo "|---|---|---|"
  echo "| orderly | ${o_runs[*]} | $o |"
  echo "| nginx | ${n_runs[*]} | $n |"
  echo
  echo "**Ratio orderly / nginx: ${ratio}x** (goal: >= 0.8x)"
  echo
  echo '<details><summary>wrk output</summary>'
  echo
  echo '```'
  cat "$work/wrk.log"
  echo '```'
  echo '</details>'
} > "$out"
echo "orderly $o req/s, nginx $n req/s, ratio ${ratio}x -> $out"
