#!/usr/bin/env bash
# Runs the OpenAPI contract tests (node:test): Redocly CLI lints
# schemas/openapi.yaml clean (no errors, no warnings) and the document has
# every route, security requirement, problem+json error and header the
# gateway implements.
#
#   tests/openapi/run.sh
#
# Offline once node_modules exists; Redocly telemetry and update checks are off.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
exec node --test tests/openapi/
