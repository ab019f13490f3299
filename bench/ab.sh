#!/usr/bin/env bash
# Two builds of `orderly` side by side, end to end: `orderly demo --url` against
# `orderly up` (on the cores in CPUS, 0,1 unless set; carrier delay 50 ms,
# concurrency 64), alternated ROUNDS
# times in one run, since this machine is noisy. For each run: orders/s to a
# terminal state, and the server's CPU time per order (user + system, from
# /proc/PID/stat). Writes bench/results/<date>-<NAME>.md (never over an earlier file).
#
#   bench/ab.sh BEFORE_BINARY AFTER_BINARY NAME "what changed"   # ORDERS=3000 ROUNDS=3 CPUS=0,1
# BEFORE: build the parent commit and copy build/bin/orderly away; AFTER: build/bin/orderly.
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: bench/ab.sh BEFORE_BINARY AFTER_BINARY NAME DESCRIPTION}
after=${2:?usage}
name=${3:?usage}
what=${4:-}
ORDERS=${ORDERS:-3000}
ROUNDS=${ROUNDS:-3}
CPUS=${CPUS:-0,1}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)

run() {  # BINARY -> "orders/s cpu-ms-per-order"
  local bin=$1
  rm -rf "$work/data"
  taskset -c "$CPUS" "$bin" up --port 0 --data-dir "$work/data" --log-level warn \
    --carrier-delay 0.05 --rate-limit 1000000000 --rate-burst 1000000000 > "$work/up.out" 2> "$work/up.err" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/up.err" 2>/dev/null && break; sleep 0.1; done
  local url t0 t1
  url=$(grep -oP 'listening on \K\S+' "$work/up.err")
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  "$bin" demo --url "$url" --data-dir "$work/data" --no-progress --orders "$ORDERS" --concurrency 64 > "$work/demo.txt"
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  grep -q "invariants: .*OK" "$work/demo.txt" || { echo "invariants failed with $bin" >&2; cat "$work/demo.txt" >&2; exit 1; }
  local tp
  tp=$(grep -F "orders/s (to terminal)" "$work/demo.txt" | head -1 | awk '{print $NF}')
  echo "$tp $(python3 -c "print(f'{($t1 - $t0) * 1000 / $tck / $ORDERS:.2f}')")"
}

rows=""
tb=(); ta=(); cb=(); ca=()
for r in $(seq "$ROUNDS"); do
  read -r b bc < <(run "$before")
  read -r a ac < <(run "$after")
  tb+=("$b"); ta+=("$a"); cb+=("$bc"); ca+=("$ac")
  rows+="| $r | $b | $a | $(python3 -c "print(f'{$a / $b:.2f}')") | $bc | $ac |"$'\n'
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
mb=$(med "${tb[@]}"); ma=$(med "${ta[@]}"); mcb=$(med "${cb[@]}"); mca=$(med "${ca[@]}")
out=bench/results/$(date -u +%Y-%m-%d)-$name.md
n=2
while [ -e "$out" ]; do out=bench/results/$(date -u +%Y-%m-%d)-$name-$n.md; n=$((n + 1)); done
{
  echo "# $name: before and after, end to end"
  echo
  [ -n "$what" ] && { echo "$what"; echo; }
  echo "- command: \`bench/ab.sh BEFORE AFTER $name\` (ORDERS=$ORDERS, ROUNDS=$ROUNDS, CPUS=$CPUS)"
  echo "- machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' plus working-tree changes') (AFTER is this build; BEFORE the parent's)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "\`orderly demo --url\` (unpinned) against \`orderly up\` pinned to cores $CPUS (\`taskset -c $CPUS\`), concurrency 64, carrier delay 50 ms, alternated:"
  echo
  echo "| round | before orders/s | after orders/s | after / before | before server CPU ms/order | after |"
  echo "|---|---|---|---|---|---|"
  printf '%s' "$rows"
  echo
  echo "Median: before $mb orders/s, after $ma orders/s: $(python3 -c "print(f'{$ma / $mb:.2f}')")x."
  echo "Server CPU per order: before $mcb ms, after $mca ms: $(python3 -c "print(f'{$mca / $mcb:.2f}')")x."
} > "$out"
cat "$out"
