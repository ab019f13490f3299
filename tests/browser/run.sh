#!/usr/bin/env bash
# Runs the web console's browser tests (node:test + playwright-core + @axe-core/playwright)
# in Debian's headless chromium against an `orderly` binary.
#
#   tests/browser/run.sh [path/to/orderly] [extra node --test flags]
#
# Nothing downloads a browser: playwright-core drives /usr/bin/chromium (or
# $ORDERLY_CHROMIUM). Screenshots go to $ORDERLY_BROWSER_ARTIFACTS, default
# build/browser-artifacts.
set -euo pipefail

bin="${1:-}"
shift || true
if [[ -n "$bin" && "$bin" != /* ]]; then
  bin="$PWD/$bin"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! { [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; }; then
  npm ci --no-audit --no-fund
fi

ORDERLY_BIN="${bin:-build/bin/orderly}" exec node --test --test-concurrency=1 "$@" tests/browser/
