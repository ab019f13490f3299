#!/usr/bin/env bash
# Runs the benchmarks and records them, with the command and the machine, in
# bench/results/<date>-<name>.md. Starts (and stops) its own nats-server with
# JetStream file storage on 127.0.0.1 and a free port.
#
#   bench/run.sh                 # everything
#   bench/run.sh gateway|e2e|sqlite|jetstream|coldstart
#   ALC_DEMO=... ALC_PACKAGE=... bench/run.sh coldstart   # with the aws-lambda-cpp peer (see bench/coldstart.sh)
#   MESSAGES=50000 ROUNDS=3 bench/run.sh jetstream   # TAG=x names the results file
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
MESSAGES=${MESSAGES:-20000}
ROUNDS=${ROUNDS:-3}
what=${1:-all}
stamp=$(date -u +%Y-%m-%d)
mkdir -p bench/results

machine() {
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr)"
  echo "- compiler: $(c++ --version | head -1); SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo '?')"
  echo "- date: $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "- note: a shared, noisy 2-core VM; compare the ratios in one run, not absolute numbers across runs"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

if [[ $what == all || $what == sqlite ]]; then
  out=bench/results/$stamp-sqlite-ceiling.md
  {
    echo "# SQLite commit ceiling and ItemStore costs"
    echo
    echo "Command: \`$BUILD/bench/sqlite_benchmark --benchmark_min_time=1\`"
    echo
    machine
    echo
    echo '```'
    "$BUILD/bench/sqlite_benchmark" --benchmark_min_time=1 2>&1
    echo '```'
  } > "$out"
  echo "wrote $out"
fi

if [[ $what == all || $what == gateway ]]; then
  bench/gateway.sh
fi

if [[ $what == all || $what == e2e ]]; then
  bench/e2e.sh
fi

if [[ $what == all || $what == coldstart ]]; then
  out=bench/results/$stamp-lambda-coldstart-run.md
  {
    echo "# Lambda cold start (exec to first /next), idle RSS, zip size"
    echo
    echo "Command: \`RUNS=${RUNS:-200} ALC_DEMO=${ALC_DEMO:-} ALC_PACKAGE=${ALC_PACKAGE:-} bench/coldstart.sh\`"
    echo
    machine
    echo
    RUNS=${RUNS:-200} bench/coldstart.sh
  } > "$out"
  echo "wrote $out"
fi

if [[ $what == all || $what == jetstream ]]; then
  command -v nats-server >/dev/null || { echo "nats-server is missing: apt-get install nats-server" >&2; exit 1; }
  port=$(free_port)
  store=$(mktemp -d)
  nats-server -js -a 127.0.0.1 -p "$port" -sd "$store" >"$store/server.log" 2>&1 &
  nats_pid=$!
  trap 'kill $nats_pid 2>/dev/null; wait $nats_pid 2>/dev/null || true; rm -rf "$store"' EXIT
  for _ in $(seq 50); do grep -q "Server is ready" "$store/server.log" && break; sleep 0.1; done
  # Never over an earlier run's file: TAG names it, else -2, -3 on the same day.
  out=bench/results/$stamp-bus-vs-jetstream${TAG:+-$TAG}.md
  n=2
  while [ -e "$out" ]; do out=bench/results/$stamp-bus-vs-jetstream${TAG:+-$TAG}-$n.md; n=$((n + 1)); done
  {
    echo "# Orderly durable bus vs NATS JetStream"
    echo
    echo "Command: \`MESSAGES=$MESSAGES ROUNDS=$ROUNDS bench/run.sh jetstream\`, which runs"
    echo "\`$BUILD/bench/bus_vs_jetstream --nats nats://127.0.0.1:PORT --messages $MESSAGES --rounds $ROUNDS\`"
    echo "against \`nats-server -js\` ($(nats-server --version)) with file storage in a temp dir."
    echo
    machine
    echo
    echo "512-byte CloudEvents. Orderly: SQLite durability \`normal\` (WAL, no fsync per commit), but"
    echo "its relay fsyncs the source's WAL and then the bus's once per pass, the power-loss barrier"
    echo "of ADR 0002 (at a steady 500 events/s a pass is one event). JetStream: file storage with its"
    echo "default sync (fsync every 2 minutes). Both survive a process kill. Per-message mode uses a"
    echo "fifth of the messages."
    echo "Best of $ROUNDS alternating rounds per cell. Ratio = Orderly / JetStream throughput."
    echo "Orderly's bus and store run as \`orderly up\` runs them: their WAL checkpoints handed to"
    echo "a Checkpointer thread (ADR 0002), each WAL transaction one write; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' plus working-tree changes')."
    echo
  } > "$out"
  "$BUILD/bench/bus_vs_jetstream" --nats "nats://127.0.0.1:$port" --messages "$MESSAGES" \
    --rounds "$ROUNDS" --out "$out"
  echo "wrote $out"
fi
