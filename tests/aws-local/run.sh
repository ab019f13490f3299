#!/usr/bin/env bash
# Runs the AWS-local twin's tests (node:test): tests/aws-local/units.test.mjs (the twin's
# parts, seconds) and tests/aws-local/twin.test.mjs (the synthesized stack end to end on
# DynamoDB Local with the real bootstraps, about a minute and a half).
#
#   tests/aws-local/run.sh [path/to/orderly] [extra node --test flags]
#
# The twin synthesizes the CDK app, so infra/'s npm packages must be installed: installed
# here when missing or stale, exactly as `make infra-test` does (which runs after ctest).
set -euo pipefail

bin="${1:-}"
shift || true
if [[ -n "$bin" && "$bin" != /* ]]; then
  bin="$PWD/$bin"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! { [ -f infra/node_modules/.package-lock.json ] && [ ! infra/package-lock.json -nt infra/node_modules/.package-lock.json ]; }; then
  (cd infra && npm ci --no-audit --no-fund)
fi

# The console's browser check needs the root packages (playwright-core, @axe-core/playwright).
if ! { [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; }; then
  npm ci --no-audit --no-fund
fi

ORDERLY_BIN="${bin:-build/bin/orderly}" exec node --test --test-concurrency=1 "$@" tests/aws-local/
