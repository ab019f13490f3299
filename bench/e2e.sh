#!/usr/bin/env bash
# End to end: `orderly demo` against a running `orderly up` at concurrency 64
# and 256 (orders/s to a terminal state, place-to-terminal latency), and the
# peak RSS (VmHWM) of `orderly up` over the run.
#
#   bench/e2e.sh     # writes bench/results/<date>-e2e-demo.md
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
ORDERS=${ORDERS:-3000}
stamp=$(date -u +%Y-%m-%d)
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$BUILD/bin/orderly" up --port 0 --data-dir "$work/data" --log-level warn --carrier-delay 0.05 \
  --rate-limit 1000000000 --rate-burst 1000000000 > "$work/up.out" 2> "$work/up.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/up.err" 2>/dev/null && break; sleep 0.1; done
url=$(grep -oP 'listening on \K\S+' "$work/up.err")

out=bench/results/$stamp-e2e-demo.md
{
  echo "# End to end: orderly demo against orderly up"
  echo
  echo "Command: \`bench/e2e.sh\` (ORDERS=$ORDERS): \`orderly up --carrier-delay 0.05 --log-level warn\`, then"
  echo "\`orderly demo --url URL --orders $ORDERS --concurrency C\` for C = 64 and 256. Terminal = DELIVERED"
  echo "(two carrier steps of 50 ms) or CANCELLED. The demo places as fast as its clients can (open loop),"
  echo "so the latency includes the queueing behind the backlog it builds."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
  echo "- date: $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
  echo
} > "$out"
for c in 64 256; do
  echo "## concurrency $c" >> "$out"
  echo '```' >> "$out"
  "$BUILD/bin/orderly" demo --url "$url" --data-dir "$work/data" --orders "$ORDERS" --concurrency "$c" --no-progress >> "$out"
  echo '```' >> "$out"
done
echo "Peak RSS of orderly up over both runs: $(awk '/VmHWM/{print $2, $3}' /proc/$pid/status) (goal <= 64 MB)." >> "$out"
echo "wrote $out"
