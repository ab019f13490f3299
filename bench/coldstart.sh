#!/usr/bin/env bash
# Lambda cold start, side by side: from the exec of a bootstrap to its first
# GET /runtime/invocation/next against the project's local Runtime API
# (`orderly invoke --timing`), and its idle RSS once it waits for work.
#
#   RUNS=200 bench/coldstart.sh                      # the Orderly bootstraps only
#   ALC_DEMO=/path/to/demo ALC_PACKAGE=/path/to/unzipped-demo RUNS=200 bench/coldstart.sh
#   NOOP=/path/to/noop_runtime ...                   # and the floor
#
# NOOP is bench/cold_start/noop_runtime.c built with `gcc -O2 -static`: the Runtime
# API and nothing else, so its init is the cost of starting a process here. The
# Orderly rows run on DynamoDB Local (plain HTTP on loopback), and one with the
# regional HTTPS DynamoDB endpoint, as on AWS: its init builds a TLS context and
# loads the CA bundle (nothing is sent at init).
#
# ALC_DEMO is awslabs/aws-lambda-cpp's examples/demo binary and ALC_PACKAGE the
# directory of its packaged zip (bootstrap script + bin/ + lib/), both built by
# you from its public source (see bench/results/*-lambda-coldstart.md for how);
# this script never builds or downloads it. Runs are interleaved round-robin so
# machine noise falls on every contender alike.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-200}"
ORDERLY="${ORDERLY:-build/bin/orderly}"
work="$(mktemp -d)"
# The bootstraps' only store is DynamoDB (ADR 0018): one DynamoDB Local for the
# whole run (a table per service, created before each timed exec, not in it).
node tests/support/dynamodb-local.mjs --state "$work/ddb" >/dev/null
trap 'node tests/support/dynamodb-local.mjs --stop "$work/ddb" >/dev/null 2>&1; rm -rf "$work"' EXIT
ddb="http://127.0.0.1:$(cut -d' ' -f1 "$work/ddb")"
echo '{"Records":[]}' > "$work/sqs-empty.json"
# An anonymous HTTP API request (payload format 2.0), the repository's own fixture.
cp tests/fixtures/aws-events/apigw-v2-no-authorizer.json "$work/apigw.json"

declare -a names cmds
names+=("orderly orders (api)");       cmds+=("$ORDERLY invoke orders --handler api --event $work/apigw.json --store dynamodb-endpoint $ddb --timing")
names+=("orderly shipping (events)");  cmds+=("$ORDERLY invoke shipping --handler events --event $work/sqs-empty.json --store dynamodb-endpoint $ddb --timing")
names+=("orderly shipping (events, HTTPS DynamoDB endpoint)")
cmds+=("$ORDERLY invoke shipping --handler events --event $work/sqs-empty.json --store dynamodb-endpoint https://dynamodb.eu-west-1.amazonaws.com --table shipping --timing")
if [[ -n "${NOOP:-}" ]]; then
  names+=("no-op static C runtime (the floor)")
  cmds+=("$ORDERLY invoke shipping --handler events --event $work/sqs-empty.json --store dynamodb-endpoint $ddb --bootstrap $NOOP --timing")
fi
if [[ -n "${ALC_DEMO:-}" ]]; then
  names+=("aws-lambda-cpp demo (binary, system libs)")
  cmds+=("$ORDERLY invoke shipping --handler events --event $work/sqs-empty.json --store dynamodb-endpoint $ddb --bootstrap $ALC_DEMO --timing")
fi
if [[ -n "${ALC_PACKAGE:-}" ]]; then
  names+=("aws-lambda-cpp demo (its packaged bootstrap)")
  cmds+=("env LAMBDA_TASK_ROOT=$ALC_PACKAGE $ORDERLY invoke shipping --handler events --event $work/sqs-empty.json --store dynamodb-endpoint $ddb --bootstrap $ALC_PACKAGE/bootstrap --timing")
fi

for ((i = 0; i < ${#cmds[@]}; i++)); do : > "$work/$i.txt"; done
for ((r = 0; r < RUNS; r++)); do
  for ((i = 0; i < ${#cmds[@]}; i++)); do
    out=$(${cmds[$i]} 2>&1 >/dev/null | grep -o 'init_ms=[0-9.]* idle_rss_kb=[0-9]*' || true)
    [[ -n "$out" ]] || { echo "run failed: ${cmds[$i]}" >&2; exit 1; }
    echo "$out" >> "$work/$i.txt"
  done
done

echo "| bootstrap | runs | init median (ms) | init p90 (ms) | idle RSS median (MB) |"
echo "|---|---:|---:|---:|---:|"
for ((i = 0; i < ${#cmds[@]}; i++)); do
  python3 - "${names[$i]}" "$work/$i.txt" <<'PY'
import re, statistics, sys
name, path = sys.argv[1], sys.argv[2]
init, rss = [], []
for line in open(path):
    m = re.search(r"init_ms=([\d.]+) idle_rss_kb=(\d+)", line)
    init.append(float(m.group(1))); rss.append(int(m.group(2)))
init.sort()
p90 = init[int(0.9 * (len(init) - 1))]
print(f"| {name} | {len(init)} | {statistics.median(init):.2f} | {p90:.2f} | {statistics.median(rss) / 1024:.1f} |")
PY
done
echo
echo "zip sizes:"
ls -l build/lambda/*.zip | awk '{printf "  %s %d bytes\n", $9, $5}'
