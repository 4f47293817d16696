#!/usr/bin/env bash
# A structural check of deploy/container/Containerfile (building the image
# takes minutes and the Debian archive: deploy/container/smoke-test.sh, not
# CI): the last USER is a numeric uid:gid, neither 0; no compiler or -dev
# package is installed; the base is local (localhost/..., from base.sh), not
# a registry's; the three programs are copied. Then copies with one of those
# broken must fail the same check. hadolint runs too where it is installed
# (it is in neither Debian 12 nor npm: npm's "hadolint" downloads the binary
# at run time).
#
#   tests/deploy/containerfile_test.sh REPO_DIR
set -euo pipefail

repo=$(cd "$1" && pwd)
containerfile=$repo/deploy/container/Containerfile
tmp=$(mktemp -d /tmp/relaysync-containerfile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# check FILE: prints each problem; fails if there is one.
check() {
  local file=$1 problems=0 user base
  # One logical line per instruction (continuations joined).
  sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$file" | grep -v '^[[:space:]]*#' >"$tmp/joined"
  user=$(grep -E '^USER ' "$tmp/joined" | tail -n 1 | cut -d ' ' -f 2-)
  if ! [[ $user =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]]; then
    echo "USER \"$user\": want a numeric uid:gid, neither 0"
    problems=$((problems + 1))
  fi
  if grep -qE '^RUN .*[[:space:]](gcc|g\+\+|cpp|clang|build-essential|[a-z0-9.+-]+-dev)([[:space:]]|$)' \
    "$tmp/joined"; then
    echo "a RUN installs a compiler or a -dev package"
    problems=$((problems + 1))
  fi
  while read -r base; do
    # shellcheck disable=SC2016 # the Containerfile's own ${BASE}, literally
    if [[ $base == '${BASE}' || $base == '$BASE' ]]; then
      base=$(sed -n 's/^ARG BASE=//p' "$tmp/joined")
    fi
    if [[ $base != localhost/* ]]; then
      echo "FROM $base: want the local base (localhost/..., deploy/container/base.sh)"
      problems=$((problems + 1))
    fi
  done < <(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$tmp/joined")
  for program in relaysync-coordinator relaysync-agent vsmtprelay; do
    if ! grep -qE "^COPY .* bin/$program( |$)" "$tmp/joined"; then
      echo "no COPY of bin/$program"
      problems=$((problems + 1))
    fi
  done
  [[ $problems -eq 0 ]]
}

if ! check "$containerfile"; then
  echo "FAIL $containerfile (above)"
  exit 1
fi
echo "ok   $containerfile"
if command -v hadolint >/dev/null; then
  hadolint "$containerfile"
  echo "ok   hadolint"
else
  echo "note hadolint is not installed: not run"
fi

failures=0
# broken NAME SED_EXPRESSION: a copy edited so, which check must refuse.
broken() {
  local name=$1 expr=$2
  sed -e "$expr" "$containerfile" >"$tmp/$name"
  if cmp -s "$tmp/$name" "$containerfile"; then
    echo "FAIL $name: the edit changed nothing"
    failures=$((failures + 1))
  elif out=$(check "$tmp/$name"); then
    echo "FAIL $name: passed the check"
    failures=$((failures + 1))
  else
    echo "ok   $name: ${out//$'\n'/; }"
  fi
}
broken user-root 's/^USER .*/USER root/'
broken user-zero 's/^USER .*/USER 0:0/'
broken user-missing '/^USER /d'
broken compiler 's/ca-certificates/ca-certificates gcc/'
broken dev-package 's/ca-certificates/ca-certificates libgrpc++-dev/'
broken registry-base 's|^ARG BASE=.*|ARG BASE=docker.io/library/debian:bookworm|'
broken missing-program 's| bin/vsmtprelay||'
if [[ $failures -gt 0 ]]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "the Containerfile passes and every broken copy fails"
