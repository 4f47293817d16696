#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, ASan + UBSan) and runs each
# on its seed corpus (fuzz/corpus/<target>/) for SECONDS, default 20, two at
# a time. Fails on any crash, timeout, out-of-memory or sanitizer report;
# the input is kept in $build/fuzz-artifacts/ (reproduce: fuzz/README.md).
# New inputs found go to a scratch directory, not to the repository.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 600 address
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-20}
shift || true
jobs=${RELAYSYNC_JOBS:-2}
build=${RELAYSYNC_FUZZ_BUILD:-$root/build-fuzz}
all_targets=(address dovecot_log_parser log_formats notify_message
  spool_record state_files vsmtprelay_args agent_message)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DRELAYSYNC_FUZZ=ON -DRELAYSYNC_BUILD_TESTS=OFF -DRELAYSYNC_BUILD_BENCH=OFF \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$jobs" --target "${targets[@]/%/_fuzzer}"

artifacts=$build/fuzz-artifacts
logs=$build/fuzz-logs
mkdir -p "$artifacts" "$logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Leaks count as failures; halt on the first report of any sanitizer.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Runs one target; prints its summary line; non-zero on any finding.
run_one() {
  local t=$1 log=$logs/$1.log
  mkdir -p "$work/$t"
  local rc=0
  "$build/fuzz/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t-" "$work/$t" "fuzz/corpus/$t" \
    >"$log" 2>&1 || rc=$?
  # A report that did not end the run (should not happen) still fails it.
  if [[ $rc -eq 0 ]] && grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant failed' "$log"; then
    rc=1
  fi
  local execs cov
  execs=$(grep -oE 'number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  cov=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -1 |
    grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo 'cov: ? ft: ?')
  if [[ $rc -ne 0 ]]; then
    echo "FAIL $t (exit $rc): see $log"
    grep -E 'ERROR|runtime error|invariant failed|SUMMARY|Test unit written' "$log" | head -20
    return 1
  fi
  printf 'ok   %-20s %4ss  execs %-10s %s\n' "$t" "$seconds" "$execs" "$cov"
}

failed=0
running=0
for t in "${targets[@]}"; do
  if [[ $running -ge $jobs ]]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [[ $running -gt 0 ]]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [[ $failed -ne 0 ]]; then
  echo "fuzz.sh: a fuzz target failed" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each: no crash, no sanitizer report"
