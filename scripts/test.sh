#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs packages,
# checks that every C++ file is as clang-format writes it, builds with
# -Werror, runs every test, then rebuilds with clang (AddressSanitizer +
# UBSan, and -Wthread-safety checking the lock annotations) and runs the
# unit tests again, and last runs each libFuzzer target on its seed corpus
# for a short time (RELAYSYNC_FUZZ_SECONDS, default 20).
# Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [[ $(id -u) -eq 0 ]]; then
  scripts/install-deps.sh
else
  sudo scripts/install-deps.sh
fi

export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
jobs=${RELAYSYNC_JOBS:-2}

echo "== format (clang-format, .clang-format) =="
# Every C++ file as clang-format writes it; print the differences and fail.
if ! git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror; then
  echo "format: run clang-format -i on the files above" >&2
  exit 1
fi

echo "== build (RelWithDebInfo, -Werror) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRELAYSYNC_WERROR=ON
cmake --build build -j"$jobs"
echo "== tests =="
(cd build && ctest --output-on-failure --timeout 600)

echo "== build (clang: ASan + UBSan, -Wthread-safety -Werror) =="
# clang checks the lock annotations (ABSL_GUARDED_BY, ...) that gcc ignores.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRELAYSYNC_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DRELAYSYNC_SANITIZE=ON -DRELAYSYNC_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
echo "== unit tests under ASan + UBSan =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 600 -L unit)

echo "== fuzz targets (clang + libFuzzer, ${RELAYSYNC_FUZZ_SECONDS:-20} s each) =="
scripts/fuzz.sh "${RELAYSYNC_FUZZ_SECONDS:-20}"
