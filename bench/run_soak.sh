#!/bin/sh
# The chaos soak of bench/README.md ("Chaos soak"): 4 agents and 2
# coordinators on Redis at 1,000 logins/s for 10 minutes, one random
# process (agent, coordinator or Redis) SIGKILLed every 20 s and restarted.
#
#   bench/run_soak.sh [BUILD_DIR]              # BUILD_DIR defaults to ./build
#   SOAK_DURATION=90s SOAK_KILL_EVERY=15s SOAK_RATE=300 bench/run_soak.sh
#
# Entries expire after SOAK_EXPIRE_AFTER (2m): the state levels off after
# two minutes, so a process that keeps growing later is not just holding
# more entries, and expiry itself is checked. Other flags go through
# SOAK_FLAGS (e.g. "--seed=42").
# It waits (at most SOAK_IDLE_WAIT seconds, default 120) for an idle
# machine, prints how busy the machine was before and after, and exits
# with the soak's status: 1 if a login was lost, an entry outlived its
# expiry, a map's mtime ran away, a process kept growing or a restart
# failed.
set -u

build=${1:-build}
bin=$build/bench/relaysync-soak-bench
if [ ! -x "$bin" ]; then
  echo "run_soak.sh: $bin not found; build it first:" >&2
  echo "  cmake --build $build --target relaysync-soak-bench" >&2
  exit 2
fi
idle_wait=${SOAK_IDLE_WAIT:-120}
log=$(mktemp /var/tmp/relaysync-soak.XXXXXX.log)
trap 'rm -f "$log"' EXIT

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

wait_for_idle
echo "machine busy before: $(busy_percent)%"
# SOAK_FLAGS is split into words on purpose.
# shellcheck disable=SC2086
timeout 7200 "$bin" --agents="${SOAK_AGENTS:-4}" \
  --coordinators="${SOAK_COORDINATORS:-2}" --rate="${SOAK_RATE:-1000}" \
  --duration="${SOAK_DURATION:-10m}" --kill_every="${SOAK_KILL_EVERY:-20s}" \
  --expire_after="${SOAK_EXPIRE_AFTER:-2m}" \
  ${SOAK_FLAGS:-}
status=$?
echo "machine busy after: $(busy_percent)%  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
exit "$status"
