#!/usr/bin/env bash
# Gateway throughput, side by side with nginx in one run, alternating ROUNDS
# times, wrk -t2 -c64, both on 127.0.0.1, access logs off. Two rows:
#  1. the trivial route: GET /healthz; nginx answers a fixed 200 from a
#     location block;
#  2. an authenticated GET /v1/orders/{id}: orderly checks the JWT (its
#     verified-token cache, exp/nbf re-checked), the scope and the owner, and
#     reads the order from SQLite; nginx serves the same JSON from a file after
#     comparing the Authorization header with a fixed string (nginx-light has no
#     JWT module), so nginx does strictly less work on that row.
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
    location /v1/orders/ {
      if (\$http_authorization != "Bearer @TOKEN@") { return 401; }
      default_type application/json;
      root $work/www;
    }
  }
}
CONF
"$BUILD/bin/orderly" up --port 0 --data-dir "$work/data" --log-level warn --rate-limit 1000000000 \
  --rate-burst 1000000000 > "$work/up.out" 2> "$work/up.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/up.err" 2>/dev/null && break; sleep 0.1; done
orderly_url=$(grep -oP 'listening on \K\S+' "$work/up.err")

# One customer's order, read back by its owner on row 2.
token=$("$BUILD/bin/orderly" token --data-dir "$work/data" --customer bench-customer | tail -1)
order_id=$(curl -sf -X POST "$orderly_url/v1/orders" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -H 'Idempotency-Key: bench-gateway-1' \
  -d '{"items":[{"sku":"KB-MECH-01","quantity":1}],"paymentToken":"tok_ok","shippingAddress":{"name":"Bench","line1":"1 Street","city":"London","postalCode":"N1 1AA","country":"GB"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["orderId"])')
sleep 1
mkdir -p "$work/www/v1/orders"
curl -sf "$orderly_url/v1/orders/$order_id" -H "Authorization: Bearer $token" > "$work/www/v1/orders/$order_id"
sed -i "s|@TOKEN@|$token|" "$work/nginx.conf"
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 0.5
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/v1/orders/$order_id")" = 401 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "$orderly_url/v1/orders/$order_id")" = 401 ]

rps() {
  wrk -t2 -c64 -d"$DURATION" --latency "${@:2}" "$1" | tee -a "$work/wrk.log" |
    awk '/Non-2xx/{bad=1} /Requests\/sec/{r=$2} END{if (bad) print "non-2xx"; else print r}'
}
auth=(-H "Authorization: Bearer $token")

declare -a o_runs n_runs oa_runs na_runs
for r in $(seq "$ROUNDS"); do
  o_runs+=("$(rps "$orderly_url/healthz")")
  n_runs+=("$(rps "http://127.0.0.1:$nginx_port/healthz")")
  oa_runs+=("$(rps "$orderly_url/v1/orders/$order_id" "${auth[@]}")")
  na_runs+=("$(rps "http://127.0.0.1:$nginx_port/v1/orders/$order_id" "${auth[@]}")")
done
if printf '%s\n' "${o_runs[@]}" "${n_runs[@]}" "${oa_runs[@]}" "${na_runs[@]}" | grep -q non-2xx; then
  echo "a run had non-2xx answers; see the wrk output" >&2
  cat "$work/wrk.log" >&2
  exit 1
fi
best() { printf '%s\n' "$@" | sort -g | tail -1; }
o=$(best "${o_runs[@]}"); n=$(best "${n_runs[@]}")
oa=$(best "${oa_runs[@]}"); na=$(best "${na_runs[@]}")
ratio=$(python3 -c "print(f'{$o/$n:.2f}')")
ratio_auth=$(python3 -c "print(f'{$oa/$na:.2f}')")
out=bench/results/$stamp-gateway-vs-nginx.md
{
  echo "# Gateway vs nginx: GET /healthz and an authenticated GET /v1/orders/{id}"
  echo
  echo "Command: \`bench/gateway.sh\` (ROUNDS=$ROUNDS, DURATION=$DURATION): \`wrk -t2 -c64 -d$DURATION --latency\`"
  echo "against \`orderly up --log-level warn\` (2 HTTP threads) and nginx $(nginx -v 2>&1 | cut -d/ -f2)"
  echo "(nginx-light, worker_processes 2, \`return 200\`), alternating, best of $ROUNDS each."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
  echo "- date: $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
  echo "- note: wrk, the server and the other server share the same 2 cores"
  echo
  echo "| route | server | requests/s (runs) | best |"
  echo "|---|---|---|---|"
  echo "| GET /healthz | orderly | ${o_runs[*]} | $o |"
  echo "| GET /healthz | nginx | ${n_runs[*]} | $n |"
  echo "| GET /v1/orders/{id}, Bearer | orderly (JWT, scope, owner, SQLite read) | ${oa_runs[*]} | $oa |"
  echo "| GET /v1/orders/{id}, Bearer | nginx (header string compare, static file) | ${na_runs[*]} | $na |"
  echo
  echo "**Ratio orderly / nginx on the trivial route: ${ratio}x** (goal: >= 0.8x)"
  echo
  echo "Ratio on the authenticated read: ${ratio_auth}x (nginx checks no signature and reads no store)."
  echo
  echo '<details><summary>wrk output</summary>'
  echo
  echo '```'
  cat "$work/wrk.log"
  echo '```'
  echo '</details>'
} > "$out"
echo "healthz: orderly $o req/s, nginx $n req/s, ratio ${ratio}x; authenticated read: orderly $oa, nginx $na, ratio ${ratio_auth}x -> $out"
