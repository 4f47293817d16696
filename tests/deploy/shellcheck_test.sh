#!/usr/bin/env bash
# Runs shellcheck on every shell script in deploy/, scripts/ and tests/deploy/
# (a *.sh file, or one whose first line runs sh or bash). First a script
# with a known fault must be flagged, so a pass means shellcheck ran.
#
#   tests/deploy/shellcheck_test.sh REPO_DIR
set -euo pipefail

repo=$(cd "$1" && pwd)
command -v shellcheck >/dev/null || {
  echo "shellcheck not found (scripts/install-deps.sh installs it)"
  exit 1
}

# shellcheck disable=SC2016 # the $1 is the fault to find
if printf '#!/bin/sh\nrm -rf $1/*\n' | shellcheck - >/dev/null 2>&1; then
  echo "FAIL shellcheck passed a script with an unquoted \$1"
  exit 1
fi

scripts=()
while IFS= read -r -d '' f; do
  if [[ $f == *.sh ]] || head -n 1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then
    scripts+=("$f")
  fi
done < <(cd "$repo" && find deploy scripts tests/deploy -name node_modules -prune -o -type f -print0 | sort -z)
[[ ${#scripts[@]} -ge 10 ]] || {
  echo "FAIL found only ${#scripts[@]} scripts: ${scripts[*]}"
  exit 1
}
cd "$repo"
if ! shellcheck "${scripts[@]}"; then
  echo "FAIL shellcheck (above)"
  exit 1
fi
echo "shellcheck: ${#scripts[@]} scripts clean: ${scripts[*]}"
