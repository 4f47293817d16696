#!/usr/bin/env bash
# Quick start: installs what the build needs, builds relaysync and shows
# vsmtprelay working on a demo relayers.db. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -eq 0 ]]; then
  scripts/install-deps.sh
else
  sudo scripts/install-deps.sh
fi

export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"${RELAYSYNC_JOBS:-2}" --target vsmtprelay

demo=${RELAYSYNC_DEMO_DIR:-$PWD/demo}
mkdir -p "$demo"
db=$demo/relayers.db
rm -f "$db"
vsmtprelay() { echo "\$ vsmtprelay --db=$db $*"; build/cli/vsmtprelay --db="$db" "$@"; }

vsmtprelay add 192.0.2.10
vsmtprelay add 2001:db8::25
vsmtprelay add 198.51.100.7 $(( $(date +%s) - 7200 ))
vsmtprelay list
vsmtprelay list 60
vsmtprelay expire 60
vsmtprelay dump
echo "\$ makemap -u hash $db"
/usr/sbin/makemap -u hash "$db"
echo
echo "vsmtprelay is at build/cli/vsmtprelay; see docs/vsmtprelay.1 (man -l docs/vsmtprelay.1)."
