#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (issue 11), under the ASan and
# UBSan it was built with (the `fuzz` CMake preset, `make fuzz-build`):
#
#   tests/fuzz/run.sh TARGET SECONDS [FUZZ_BIN_DIR]     # default build/fuzz/fuzz-bin
#
# First every kept regression input (tests/fuzz/regressions/TARGET/, each a
# crash found once and fixed), then a seed corpus made from the repository's
# own inputs (tests/fuzz/seeds.mjs) grown for SECONDS with a fixed seed. Prints
# the executions; fails on any crash, leak or sanitizer report, keeping the
# input under $FUZZ_ARTIFACTS (default build/fuzz/artifacts/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${1:?target}
seconds=${2:?seconds}
bin_dir=${3:-$root/build/fuzz/fuzz-bin}
bin="$bin_dir/$target"
if [[ ! -x "$bin" ]]; then
  echo "fuzz: $bin is not built: run 'make fuzz-build' (the fuzz preset, clang)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$root/build/fuzz/artifacts}
mkdir -p "$artifacts" "$work/corpus"
node "$here/seeds.mjs" "$target" "$work/corpus"
regressions="$here/regressions/$target"
if [[ -d "$regressions" ]] && compgen -G "$regressions/*" >/dev/null; then
  echo "fuzz: $target: the kept regression inputs"
  if ! "$bin" -runs=0 "$regressions"/* >"$work/regressions.log" 2>&1; then
    tail -n 40 "$work/regressions.log" >&2
    echo "fuzz: $target: a kept regression input fails again" >&2
    exit 1
  fi
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log="$work/log"
# FUZZ_RUNS: stop after that many executions too (long runs aiming at a count);
# FUZZ_TIMEOUT: seconds one input may take (10; more on a machine busy with other work).
runs=()
[[ -n ${FUZZ_RUNS:-} ]] && runs=(-runs="$FUZZ_RUNS")
started=$(date +%s)
set +e
"$bin" -max_total_time="$seconds" "${runs[@]}" -seed=1 -timeout="${FUZZ_TIMEOUT:-10}" \
  -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
  "$work/corpus" >"$log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - started ))
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
echo "fuzz: $target: ${execs:-?} executions in ${elapsed} s, exit $rc"
if [[ $rc -ne 0 ]]; then
  tail -n 60 "$log" >&2
  exit 1
fi
