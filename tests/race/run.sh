#!/usr/bin/env bash
# Runs the race client (tests/race/race.test.mjs, node:test, node built-ins plus
# /usr/bin/python3's sqlite3) against an `orderly` binary. ctest runs it in the
# CI shape (150 orders, 4 customers, 2 kill -9, a random seed that is printed
# with its replay command); the caller's environment wins:
#
#   tests/race/run.sh                                   # build/bin/orderly, CI shape
#   tests/race/run.sh path/to/orderly                   # relative to the caller's directory, or absolute
#   RACE_ORDERS=400 RACE_THREADS=4 RACE_KILLS=3 tests/race/run.sh     # the full shape
#   RACE_SEED=42 RACE_ORDERS=400 RACE_KILLS=3 ctest -R race           # the same through ctest
set -euo pipefail

bin="${1:-}"
shift || true
if [[ -n "$bin" && "$bin" != /* ]]; then
  bin="$PWD/$bin"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

export RACE_ORDERS="${RACE_ORDERS:-150}"
export RACE_THREADS="${RACE_THREADS:-4}"
export RACE_KILLS="${RACE_KILLS:-2}"
ORDERLY_BIN="${bin:-build/bin/orderly}" exec node --test --test-concurrency=1 "$@" tests/race/
