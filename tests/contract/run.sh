#!/usr/bin/env bash
# Runs the event-contract tests (node:test) against a C++ contract_dump build.
#
#   tests/contract/run.sh build/tests/contract_dump
#
# $1 is the contract_dump executable, relative to the caller's directory or
# absolute. Without it the C++ tests fail (they never skip).
set -euo pipefail

dump="${1:-}"
if [[ -n "$dump" && "$dump" != /* ]]; then
  dump="$PWD/$dump"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi

ORDERLY_CONTRACT_DUMP="$dump" exec node --test tests/contract/
