#!/bin/sh
# Runs the cluster benchmarks and prints a table:
#   relaysync-propagation-bench for 1, 8 and 32 agents at 1,000 logins/s,
#   relaysync-ingest-bench with its defaults (8 streams, batches of 500).
#
#   bench/run_cluster_bench.sh [BUILD_DIR]       # BUILD_DIR defaults to ./build
#   CLUSTER_BENCH_AGENTS="1 8" CLUSTER_BENCH_SECONDS=5 bench/run_cluster_bench.sh
#
# Before each run it waits (at most CLUSTER_BENCH_IDLE_WAIT seconds, default
# 120) for the machine to be idle, because any other load (a compiler, a test
# suite) shows up directly in the latencies. Full output of every run is kept
# in a temporary log that is printed at the end. Exits 1 if a run failed or
# lost logins.
set -u

build=${1:-build}
agents_list=${CLUSTER_BENCH_AGENTS:-"1 8 32"}
rate=${CLUSTER_BENCH_RATE:-1000}
seconds=${CLUSTER_BENCH_SECONDS:-10}
idle_wait=${CLUSTER_BENCH_IDLE_WAIT:-120}
propagation=$build/bench/relaysync-propagation-bench
ingest=$build/bench/relaysync-ingest-bench

for bin in "$propagation" "$ingest"; do
  if [ ! -x "$bin" ]; then
    echo "run_cluster_bench.sh: $bin not found; build it first:" >&2
    echo "  make -C $build relaysync-propagation-bench relaysync-ingest-bench" >&2
    exit 2
  fi
done

log=$(mktemp /var/tmp/relaysync-cluster-bench.XXXXXX.log)

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

status=0
rows=""
for n in $agents_list; do
  wait_for_idle
  echo "== propagation: $n agent(s), $rate logins/s, ${seconds}s" | tee -a "$log" >&2
  "$propagation" --agents="$n" --rate="$rate" --seconds="$seconds" >>"$log" 2>&1 || status=1
  line=$(grep "^propagation agents=$n " "$log" | tail -n1)
  if [ -z "$line" ]; then
    rows="$rows$(printf '%-8s %-8s %-8s %-6s %-26s %-26s %s' "$n" "$rate" "-" "-" "FAILED" "" "")
"
    status=1
    continue
  fi
  rows="$rows$(printf '%-8s %-8s %-8s %-6s %-26s %-26s %s' "$n" "$rate" \
    "$(field sent "$line")" "$(field lost "$line")" \
    "$(field all-agents-p50/p99/max-ms "$line")" \
    "$(field per-agent-p50/p99/max-ms "$line")" \
    "$(field cpu%-coordinator/agents/bench "$line")")
"
done

wait_for_idle
echo "== ingest: defaults, ${seconds}s" | tee -a "$log" >&2
"$ingest" --seconds="$seconds" >>"$log" 2>&1 || status=1
iline=$(grep "^ingest " "$log" | tail -n1)

echo
echo "Full output:"
sed 's/^/  /' "$log"
echo
echo "Propagation (latency from scheduled send to presence, ms, p50/p99/max):"
printf '%-8s %-8s %-8s %-6s %-26s %-26s %s\n' agents rate/s sent lost \
  all-agents per-agent "cpu% coord/agents/bench"
printf '%s' "$rows"
echo
echo "Ingest:"
if [ -n "$iline" ]; then
  printf '%-8s %-6s %-7s %-12s %s\n' streams batch window events/s \
    "batch ack p50/p99/max ms"
  printf '%-8s %-6s %-7s %-12s %s\n' "$(field streams "$iline")" \
    "$(field batch "$iline")" "$(field window "$iline")" \
    "$(field events/s "$iline")" \
    "$(field batch-ack-p50/p99/max-ms "$iline")"
else
  echo "FAILED"
  status=1
fi
rm -f "$log"
exit $status
