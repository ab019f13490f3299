#!/usr/bin/env bash
# The cost of secure_delete=ON (issue 14, ADR 0017) end to end: `orderly demo --url`
# throughput (orders/s to a terminal state, concurrency 64) against `orderly up` on 2 cores,
# with the build's binary (secure_delete=ON) and a second binary built with FAST, alternated
# ROUNDS times in one run (this machine is noisy). Writes bench/results/<date>-secure-delete.md.
#
#   bench/secure_delete_ab.sh /tmp/orderly-fast      # ORDERS=2000 ROUNDS=3
# The FAST binary: change "PRAGMA secure_delete=ON" to FAST in adapters/embedded/src/sqlite.cpp,
# build, copy build/bin/orderly away, and build again.
set -euo pipefail
cd "$(dirname "$0")/.."
on=${BUILD_DIR:-build}/bin/orderly
fast=${1:?usage: bench/secure_delete_ab.sh FAST_BINARY}
ORDERS=${ORDERS:-2000}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

run() {  # BINARY -> orders/s
  local bin=$1
  rm -rf "$work/data"
  taskset -c 0,1 "$bin" up --port 0 --data-dir "$work/data" --log-level warn \
    --carrier-delay 0.05 --rate-limit 1000000000 --rate-burst 1000000000 > "$work/up.out" 2> "$work/up.err" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/up.err" 2>/dev/null && break; sleep 0.1; done
  local url
  url=$(grep -oP 'listening on \K\S+' "$work/up.err")
  "$bin" demo --url "$url" --data-dir "$work/data" --no-progress --orders "$ORDERS" --concurrency 64 > "$work/demo.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  grep -F "orders/s (to terminal)" "$work/demo.txt" | head -1 | awk '{for (i = NF; i > 0; --i) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'
}

rows=""
on_all=(); fast_all=()
for r in $(seq "$ROUNDS"); do
  a=$(run "$on"); b=$(run "$fast")
  on_all+=("$a"); fast_all+=("$b")
  rows+="| $r | $a | $b | $(python3 -c "print(f'{$a / $b:.2f}')") |"$'\n'
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
mon=$(med "${on_all[@]}"); mfast=$(med "${fast_all[@]}")
out=bench/results/$(date -u +%Y-%m-%d)-secure-delete.md
{
  echo "# secure_delete=ON against FAST, end to end"
  echo
  echo "- command: \`bench/secure_delete_ab.sh /tmp/orderly-fast\` (ORDERS=$ORDERS, ROUNDS=$ROUNDS)"
  echo "- machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "- commit: $(git rev-parse --short HEAD) (ON is the build; FAST the same source with the one pragma changed)"
  echo
  echo "\`orderly demo --url\` orders/s to a terminal state, concurrency 64, \`orderly up\` on 2 cores, alternated:"
  echo
  echo "| round | ON | FAST | ON / FAST |"
  echo "|---|---|---|---|"
  printf '%s' "$rows"
  echo
  echo "Median: ON $mon orders/s, FAST $mfast orders/s, ratio $(python3 -c "print(f'{$mon / $mfast:.2f}')")."
} > "$out"
cat "$out"
