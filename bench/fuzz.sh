#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/) for SECONDS each and writes the
# executions to bench/results/<date>-fuzz.md with the command, the machine and
# the commit. Needs `make fuzz-build` first (make fuzz does both).
#
#   bench/fuzz.sh [SECONDS]        # default 600
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
targets=(cloudevent_fuzz event_pattern_fuzz aws_mappers_fuzz jwt_fuzz http_request_fuzz sigv4_fuzz)
out="bench/results/$(date -u +%F)-fuzz.md"
rows=""
for t in "${targets[@]}"; do
  line=$(tests/fuzz/run.sh "$t" "$seconds" | tail -n 1)
  echo "$line"
  execs=$(echo "$line" | sed -n 's/.*: \([0-9?]*\) executions.*/\1/p')
  rows+="| \`$t\` | $seconds | $execs | $(( ${execs:-0} / seconds )) | none |"$'\n'
done
{
  echo "# Fuzzing: executions per target ($(date -u +%F))"
  echo
  echo "- Command: \`bench/fuzz.sh $seconds\` (each target: \`tests/fuzz/run.sh TARGET $seconds\`, libFuzzer"
  echo "  from Debian's clang 14, ASan + UBSan, \`-seed=1\`, the seed corpus of \`tests/fuzz/seeds.mjs\`)."
  echo "- Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), Linux $(uname -r)."
  echo "- Commit: $(git rev-parse --short HEAD)."
  echo
  echo "| target | seconds | executions | per second | crashes |"
  echo "|---|---:|---:|---:|---|"
  printf '%s' "$rows"
} > "$out"
echo "written: $out"
