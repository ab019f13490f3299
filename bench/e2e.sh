#!/usr/bin/env bash
# End to end, in one run on this machine (issue 12). Writes
# bench/results/<date>-e2e-throughput.md, and the latency-against-rate plot
# bench/results/<date>-latency-vs-rate.svg (with its data, .json):
#
#  1. the store's ceiling: SQLite single-row commits in WAL with
#     synchronous=NORMAL (sqlite_benchmark's BM_RawSqliteCommit/rows_per_tx:1/full:0);
#  2. throughput: `orderly demo --url` as fast as its clients can (ORDERS orders,
#     concurrency 64) against `orderly up` on 2 cores, then on 1 core
#     (taskset -c 0): orders/s to a terminal state, as a ratio to the ceiling;
#  3. SQLite transactions and rows written per order, from the server's
#     orderly_sqlite_commits_total and orderly_sqlite_rows_written_total;
#  4. latency at fixed arrival rates (RATES, open loop, `orderly demo --rate`,
#     measured from each order's intended send time): p50, p99 and p99.9 of
#     place->CONFIRMED and place->terminal (terminal includes the two carrier
#     steps of --carrier-delay 0.05 s);
#  5. the peak RSS of `orderly up`.
#
#   bench/e2e.sh                      # ORDERS=3000 RATE_SECONDS=8 RATES="100 200 500 1000"
#   TAG=after-x bench/e2e.sh          # <date>-e2e-throughput-after-x.md (and the plot's files)
# A run never overwrites an earlier one's files: without a TAG, a second run on
# the same day gets the suffix -2, then -3.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
ORDERS=${ORDERS:-3000}
RATES=${RATES:-100 200 500 1000}
RATE_SECONDS=${RATE_SECONDS:-8}
stamp=$(date -u +%Y-%m-%d)
tag=${TAG:+-$TAG}
if [ -z "${TAG:-}" ]; then
  n=2
  while [ -e "bench/results/$stamp-e2e-throughput$tag.md" ]; do tag=-$n; n=$((n + 1)); done
elif [ -e "bench/results/$stamp-e2e-throughput$tag.md" ]; then
  echo "bench/results/$stamp-e2e-throughput$tag.md exists: choose another TAG" >&2
  exit 1
fi
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
orderly=$BUILD/bin/orderly

# start_up CPUS: orderly up on these CPUs (taskset list), fresh data dir.
start_up() {
  rm -rf "$work/data"
  taskset -c "$1" "$orderly" up --port 0 --data-dir "$work/data" --log-level warn \
    --carrier-delay 0.05 --rate-limit 1000000000 --rate-burst 1000000000 \
    > "$work/up.out" 2> "$work/up.err" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/up.err" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -oP 'listening on \K\S+' "$work/up.err")
  admin=$("$orderly" token --data-dir "$work/data" --customer bench-admin --admin | tail -1)
}
stop_up() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
metric() {  # the sum of a counter over its labels
  curl -sf -H "Authorization: Bearer $admin" "$url/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m {s += $2} END {printf "%d", s}'
}
value() { grep -F "$1" "$2" | head -1 | awk '{for (i = NF; i > 0; --i) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'; }
demo() { "$orderly" demo --url "$url" --data-dir "$work/data" --no-progress "$@"; }

# 1. The ceiling.
ceiling=$("$BUILD/bench/sqlite_benchmark" --benchmark_min_time=1 \
  --benchmark_filter='BM_RawSqliteCommit/rows_per_tx:1/full:0' --benchmark_format=json |
  python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(round(b["commits/s"]))')

# 2 and 3. Throughput on 2 cores, with the stores' transactions and rows.
start_up 0,1
c0=$(metric orderly_sqlite_commits_total); r0=$(metric orderly_sqlite_rows_written_total)
demo --orders "$ORDERS" --concurrency 64 > "$work/tp2.txt"
c1=$(metric orderly_sqlite_commits_total); r1=$(metric orderly_sqlite_rows_written_total)
placed=$(value "orders placed" "$work/tp2.txt")
tp2=$(value "orders/s (to terminal)" "$work/tp2.txt")
tx_per_order=$(python3 -c "print(f'{($c1 - $c0) / $placed:.1f}')")
rows_per_order=$(python3 -c "print(f'{($r1 - $r0) / $placed:.1f}')")

# 4. Fixed rates, on the same server.
rows_json=""
for rate in $RATES; do
  n=$(python3 -c "print(max(50, int($rate * $RATE_SECONDS)))")
  demo --orders "$n" --concurrency 256 --rate "$rate" > "$work/rate-$rate.txt"
  rows_json+=$(python3 - "$rate" "$work/rate-$rate.txt" <<'PY'
import json, re, sys
rate, path = float(sys.argv[1]), sys.argv[2]
text = open(path).read()
def get(label):
    m = re.search(re.escape(label) + r"\s+([0-9.]+)", text)
    return float(m.group(1)) if m else 0.0
print(json.dumps({"rate": rate, "achieved": get("orders/s (to terminal)"),
                  "ok": "invariants: " in text and ": OK" in text,
                  "confirmed": {"p50": get("place->confirmed p50"), "p99": get("place->confirmed p99 "),
                                "p999": get("place->confirmed p99.9")},
                  "terminal": {"p50": get("place->terminal p50"), "p99": get("place->terminal p99 "),
                               "p999": get("place->terminal p99.9")},
                  "no_fault": {"confirmed_p50": get("  place->confirmed p50"),
                               "confirmed_p99": get("  place->confirmed p99 "),
                               "confirmed_p999": get("  place->confirmed p99.9")}}) + ",")
PY
)
done
rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
stop_up

# 2 again, on 1 core.
start_up 0
demo --orders "$ORDERS" --concurrency 64 > "$work/tp1.txt"
tp1=$(value "orders/s (to terminal)" "$work/tp1.txt")
rss1=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
stop_up

json="bench/results/$stamp-latency-vs-rate$tag.json"
svg="bench/results/$stamp-latency-vs-rate$tag.svg"
echo "{\"title\": \"orderly up, open loop, $(nproc) cores, commit $(git rev-parse --short HEAD)\", \"goal_ms\": 20, \"rows\": [${rows_json%,}]}" |
  python3 -m json.tool > "$json"
python3 bench/plot_latency.py "$json" "$svg"

out=bench/results/$stamp-e2e-throughput$tag.md
ratio=$(python3 -c "print(f'{$tp2 / $ceiling:.4f}')")
{
  echo "# End to end: throughput against the SQLite commit ceiling, and latency at fixed rates"
  echo
  echo "Command: \`bench/e2e.sh\` (ORDERS=$ORDERS, RATES=\"$RATES\", RATE_SECONDS=$RATE_SECONDS; \`make bench\` runs it)."
  echo "\`orderly up --carrier-delay 0.05 --log-level warn\`; the demo runs on the same machine."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
  echo "- date: $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
  echo
  echo "## Throughput"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| SQLite single-row commits/s (WAL, synchronous=NORMAL), this run | $ceiling |"
  echo "| orders/s to a terminal state, 2 cores (concurrency 64, $ORDERS orders) | $tp2 |"
  echo "| ratio to the ceiling | ${ratio}x (goal: >= 0.1x) |"
  echo "| orders/s to a terminal state, 1 core (\`taskset -c 0\`) | $tp1 |"
  echo "| SQLite transactions per order (all stores and the bus) | $tx_per_order |"
  echo "| rows written per order | $rows_per_order |"
  echo "| peak RSS of orderly up (2-core run, then 1-core run) | $rss kB, $rss1 kB (goal: <= 64 MB) |"
  echo
  echo "## Latency at fixed arrival rates (open loop, from the intended send time)"
  echo
  echo "Plot: [$(basename "$svg")]($(basename "$svg"))."
  echo
  echo "All orders of the demo's mix (about 15% with a simulated fault: declines, a flaky"
  echo "provider whose orders wait for the bus's retry backoff of 200 ms and more, out of stock),"
  echo "and, in the last three columns, place->CONFIRMED of the orders with no simulated fault."
  echo
  echo "| intended orders/s | achieved | confirmed p50 | p99 | p99.9 | terminal p50 | p99 | p99.9 | no fault: confirmed p50 | p99 | p99.9 | invariants |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  python3 - "$json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["rows"]:
    c, t, n = r["confirmed"], r["terminal"], r["no_fault"]
    print(f"| {r['rate']:g} | {r['achieved']:g} | {c['p50']:g} ms | {c['p99']:g} ms | {c['p999']:g} ms "
          f"| {t['p50']:g} ms | {t['p99']:g} ms | {t['p999']:g} ms "
          f"| {n['confirmed_p50']:g} ms | {n['confirmed_p99']:g} ms | {n['confirmed_p999']:g} ms "
          f"| {'OK' if r['ok'] else 'FAILED'} |")
PY
  echo
  echo "<details><summary>demo reports</summary>"
  echo
  for f in "$work"/tp2.txt "$work"/rate-*.txt "$work"/tp1.txt; do
    echo "\`$(basename "$f" .txt)\`:"
    echo '```'
    cat "$f"
    echo '```'
  done
  echo '</details>'
} > "$out"
echo "wrote $out and $svg"
