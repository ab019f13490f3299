#!/usr/bin/env bash
# The cost of secure_delete=ON (issue 14, ADR 0017) end to end, through bench/ab.sh:
# `orderly demo --url` throughput against `orderly up` on 2 cores with a binary built
# with FAST (BEFORE) and the build's binary, ON (AFTER), alternated ROUNDS times in one
# run; after / before is ON / FAST. Writes bench/results/<date>-secure-delete.md.
#
#   bench/secure_delete_ab.sh /tmp/orderly-fast      # ORDERS=2000 ROUNDS=3
# The FAST binary: change "PRAGMA secure_delete=ON" to FAST in adapters/embedded/src/sqlite.cpp,
# build, copy build/bin/orderly away, and build again.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=${1:?usage: bench/secure_delete_ab.sh FAST_BINARY}
ORDERS=${ORDERS:-2000} exec bench/ab.sh "$fast" "${BUILD_DIR:-build}/bin/orderly" secure-delete \
  "BEFORE: the same source with PRAGMA secure_delete=FAST. AFTER: the build, with ON. After / before is the cost of ON."
