# shellcheck shell=bash
# checks.sh -- sourced by every e2e test: a hard time bound and the
# PASS/FAIL bookkeeping. Exit codes: 0 pass, 1 fail, 77 skipped.

# e2e_bound SECONDS "$0" "$@": re-executes the calling script once under
# timeout(1), so a hung daemon cannot hang the suite.
e2e_bound() {
  local seconds=$1
  shift
  if [ -z "${RELAYSYNC_E2E_TIMED-}" ]; then
    export RELAYSYNC_E2E_TIMED=1
    exec timeout -k 10 "$seconds" "$@"
  fi
}

failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
skip() {
  echo "SKIP: $*"
  exit 77
}
die() {
  echo "FAIL: $*"
  exit 1
}
