#!/usr/bin/env bash
# Times building a relayers.db from the same makemap-format text with
# relaysync's library (relayers-map-load) and with sendmail's makemap, for
# 100,000 and 1,000,000 entries, and fails unless both maps hold the same
# entries. See bench/README.md.
#
# Usage: bench/map_build.sh [BUILD_DIR]   (default: <repo>/build)
# Environment: MAP_BUILD_SIZES (default "100000 1000000"), MAKEMAP
# (default /usr/sbin/makemap).
set -euo pipefail
export LC_ALL=C  # '.' in $EPOCHREALTIME, byte order for sort

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$repo_root/build}
loader=$build_dir/bench/relayers-map-load
makemap=${MAKEMAP:-/usr/sbin/makemap}
read -r -a sizes <<< "${MAP_BUILD_SIZES:-100000 1000000}"

die() {
  echo "map_build.sh: $*" >&2
  exit 1
}

[[ -x $loader ]] || die "$loader not found; build the bench targets first"
[[ -x $makemap ]] || die "$makemap not found (Debian: sendmail-bin)"

# makemap checks that a map's directory is safe (not group- or world-
# writable); a private 0700 directory from mktemp -d passes. It still warns
# about the sticky, world-writable /var/tmp above it, so its stderr goes to a
# log that is shown only when it fails.
work=$(mktemp -d /var/tmp/relayers-map-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Writes $1 lines "10.x.y.z<TAB>ticks" with distinct keys.
generate_input() {
  awk -v n="$1" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "10.%d.%d.%d\t%d\n", int(i / 65536) % 256, int(i / 256) % 256,
             i % 256, 1700000000 + i % 86400
  }'
}

# Runs "$@" < $input and prints its wall-clock time in seconds.
timed() {
  local log=$work/stderr.log start end
  start=$EPOCHREALTIME
  if ! "$@" < "$input" 2> "$log"; then
    cat "$log" >&2
    die "failed: $*"
  fi
  end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

# Prints the map's entries, sorted, as "key<TAB>value" lines.
dump() {
  "$makemap" -u hash "$1" 2> "$work/dump.log" | sort ||
    { cat "$work/dump.log" >&2; die "cannot dump $1"; }
}

results=()
for n in "${sizes[@]}"; do
  input=$work/input-$n.txt
  generate_input "$n" > "$input"
  lib_db=$work/library-$n.db
  mm_db=$work/makemap-$n.db
  lib_s=$(timed "$loader" "$lib_db")
  mm_s=$(timed "$makemap" hash "$mm_db")

  dump "$lib_db" > "$work/library.dump"
  dump "$mm_db" > "$work/makemap.dump"
  count=$(wc -l < "$work/library.dump")
  if ((count != n)); then
    die "N=$n: library map holds $count entries, expected $n"
  fi
  if ! cmp -s "$work/library.dump" "$work/makemap.dump"; then
    diff "$work/library.dump" "$work/makemap.dump" | head -20 >&2 || true
    die "N=$n: library and makemap maps differ (first differences above)"
  fi
  results+=("$(printf '%-10s %12s %12s' "$n" "$lib_s" "$mm_s")")
  rm -f "$input" "$lib_db" "$mm_db" "$work"/*.dump
done

printf '%-10s %12s %12s\n' N library_s makemap_s
printf '%s\n' "${results[@]}"
echo "(maps verified identical with: makemap -u hash X.db | sort)"
