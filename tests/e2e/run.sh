#!/usr/bin/env bash
# Runs the end-to-end tests of the HTTP gateway (node:test, node built-ins only;
# the SQLite files are read with /usr/bin/python3, or $ORDERLY_E2E_PYTHON) against
# an `orderly` binary.
#
#   tests/e2e/run.sh                      # build/bin/orderly
#   tests/e2e/run.sh path/to/orderly      # relative to the caller's directory, or absolute
#   tests/e2e/run.sh "" --test-name-pattern=idempotency   # extra node --test flags
#
# Each test file starts its own servers on 127.0.0.1 with --port 0 and a temp
# data directory, and stops them when done. Set ORDERLY_E2E_KEEP=1 to keep the
# temp directories.
set -euo pipefail

bin="${1:-}"
shift || true
if [[ -n "$bin" && "$bin" != /* ]]; then
  bin="$PWD/$bin"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ORDERLY_BIN="${bin:-build/bin/orderly}" exec node --test --test-concurrency=1 "$@" tests/e2e/
