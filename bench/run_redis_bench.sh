#!/bin/sh
# Coordinator ingest through Redis next to redis-benchmark on the same
# machine, and propagation latency with coordinators sharing one Redis:
#
#   (a) redis-benchmark -P 64 -t hset -n 1000000 against a redis-server
#       configured as the benchmarks configure theirs (appendonly yes,
#       appendfsync always, then everysec);
#   (b) relaysync-ingest-bench --store=redis with 1 and 2 coordinators, same
#       appendfsync; prints events/s divided by redis-benchmark's HSET/s;
#   (c) relaysync-propagation-bench --store=redis, 2 coordinators x 32 agents
#       and 1 x 1, at 1,000 logins/s (appendfsync always).
#
#   bench/run_redis_bench.sh [BUILD_DIR]        # BUILD_DIR defaults to ./build
#   REDIS_BENCH_FSYNC=always REDIS_BENCH_SECONDS=5 bench/run_redis_bench.sh
#
# Everything runs on 127.0.0.1 in scratch directories under /var/tmp that are
# removed at the end; every step is bounded by timeout(1). Before each step
# it waits (at most REDIS_BENCH_IDLE_WAIT seconds, default 120) for the
# machine to be idle and says how busy it was if it never got there. Exits 1
# if a step failed or lost logins.
set -u

build=${1:-build}
fsync_list=${REDIS_BENCH_FSYNC:-"always everysec"}
seconds=${REDIS_BENCH_SECONDS:-10}
rate=${REDIS_BENCH_RATE:-1000}
requests=${REDIS_BENCH_REQUESTS:-1000000}
idle_wait=${REDIS_BENCH_IDLE_WAIT:-120}
propagation=$build/bench/relaysync-propagation-bench
ingest=$build/bench/relaysync-ingest-bench

for bin in "$propagation" "$ingest"; do
  if [ ! -x "$bin" ]; then
    echo "run_redis_bench.sh: $bin not found; build it first:" >&2
    echo "  make -C $build relaysync-propagation-bench relaysync-ingest-bench" >&2
    exit 2
  fi
done
for tool in redis-server redis-cli redis-benchmark timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run_redis_bench.sh: $tool not found in PATH" >&2
    exit 2
  fi
done

scratch=$(mktemp -d /var/tmp/relaysync-redis-bench.XXXXXX) || exit 1
log=$scratch/output.log
redis_pid=""

stop_redis() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null
    i=0
    while kill -0 "$redis_pid" 2>/dev/null && [ $i -lt 100 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    kill -9 "$redis_pid" 2>/dev/null
    wait "$redis_pid" 2>/dev/null
    redis_pid=""
  fi
}
cleanup() {
  stop_redis
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# Starts redis-server with appendfsync $1 in $scratch/redis-$1, configured as
# bench_store.cc configures the benchmarks' own (keep them alike), on a free
# port; sets redis_pid and redis_port.
start_redis() {
  dir=$scratch/redis-$1
  mkdir -p "$dir"
  attempt=0
  while [ $attempt -lt 5 ]; do
    attempt=$((attempt + 1))
    redis_port=$(awk -v s="$(($$ + attempt * 7919 + $(date +%s)))" \
      'BEGIN { srand(s); print 20000 + int(rand() * 40000) }')
    printf 'bind 127.0.0.1\nport %s\ndir %s\ndaemonize no\nsave ""\nappendonly yes\nappendfsync %s\nmaxmemory-policy noeviction\n' \
      "$redis_port" "$dir" "$1" >"$dir/redis.conf"
    redis-server "$dir/redis.conf" >>"$dir/redis.log" 2>&1 &
    redis_pid=$!
    i=0
    while [ $i -lt 100 ] && kill -0 "$redis_pid" 2>/dev/null; do
      # Up, and it is ours (not a server that had the port already).
      if redis-cli -p "$redis_port" info server 2>/dev/null | tr -d '\r' |
         grep -qx "process_id:$redis_pid"; then
        return 0
      fi
      sleep 0.1
      i=$((i + 1))
    done
    stop_redis
  done
  echo "run_redis_bench.sh: redis-server did not start; see $dir/redis.log" >&2
  return 1
}

# used_cpu_user + used_cpu_sys of the running redis-server.
redis_cpu() {
  redis-cli -p "$redis_port" info cpu | tr -d '\r' |
    awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" { s += $2 } END { print s + 0 }'
}

# /proc/stat's first line (busy and total jiffies) as "busy total".
machine_jiffies() {
  head -n1 /proc/stat | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }'
}

status=0
hset_rows=""
ingest_rows=""
prop_rows=""

for fsync in $fsync_list; do
  # (a) redis-benchmark against a fresh server.
  wait_for_idle
  echo "== redis-benchmark -P 64 -t hset -n $requests, appendfsync $fsync" | tee -a "$log" >&2
  if start_redis "$fsync"; then
    cpu0=$(redis_cpu)
    m0=$(machine_jiffies)
    t0=$(date +%s.%N)
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$redis_port" -P 64 -t hset \
      -n "$requests" -q >"$scratch/rb.out" 2>&1
    rb_status=$?
    t1=$(date +%s.%N)
    m1=$(machine_jiffies)
    cpu1=$(redis_cpu)
    tr '\r' '\n' <"$scratch/rb.out" | grep -v -e '^ *HSET: rps=' -e '^[[:space:]]*$' >>"$log"
    hset=$(tr '\r' '\n' <"$scratch/rb.out" | grep '^HSET: [0-9]' | tail -n1 | awk '{ print $2 }')
    extra=$(awk -v b0="${m0% *}" -v T0="${m0#* }" -v b1="${m1% *}" -v T1="${m1#* }" \
      -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN { w = t1 - t0;
      printf "redis-server cpu %.0f%% of one CPU, machine busy %.0f%% of all CPUs, %.1f s",
        100 * (c1 - c0) / w, 100 * (b1 - b0) / (T1 - T0), w }')
    echo "   $extra" >>"$log"
    stop_redis
    rm -rf "$scratch/redis-$fsync"
    if [ "$rb_status" -ne 0 ] || [ -z "$hset" ]; then
      echo "redis-benchmark failed (status $rb_status)" | tee -a "$log" >&2
      hset=""
      status=1
    fi
  else
    hset=""
    status=1
  fi
  hset_rows="$hset_rows$(printf '%-9s %-14s %s' "$fsync" "${hset:-FAILED}" "${extra:-}")
"

  # (b) ingest through Redis, 1 and 2 coordinators.
  for n in 1 2; do
    wait_for_idle
    echo "== ingest: redis appendfsync $fsync, $n coordinator(s), ${seconds}s" | tee -a "$log" >&2
    timeout $((seconds + 120)) "$ingest" --store=redis --redis-fsync="$fsync" \
      --coordinators="$n" --seconds="$seconds" >"$scratch/run.out" 2>&1 || status=1
    cat "$scratch/run.out" >>"$log"
    line=$(grep "^ingest " "$scratch/run.out" | tail -n1)
    events=$(field events/s "$line")
    if [ -z "$line" ] || [ -z "$events" ]; then
      ingest_rows="$ingest_rows$(printf '%-9s %-6s %-10s' "$fsync" "$n" FAILED)
"
      status=1
      continue
    fi
    ratio=-
    [ -n "$hset" ] && ratio=$(awk -v e="$events" -v h="$hset" 'BEGIN { printf "%.3f", e / h }')
    ingest_rows="$ingest_rows$(printf '%-9s %-6s %-10s %-8s %-26s %s' "$fsync" "$n" \
      "$events" "$ratio" "$(field batch-ack-p50/p99/max-ms "$line")" \
      "$(field cpu%-coordinators/redis/bench "$line")")
"
  done
done

# (c) propagation on Redis with appendfsync always (the durable setting).
for shape in "2 32" "1 1"; do
  # shellcheck disable=SC2086  # "COORDINATORS AGENTS"
  set -- $shape
  wait_for_idle
  echo "== propagation: redis, $1 coordinator(s) x $2 agent(s), $rate logins/s, ${seconds}s" | tee -a "$log" >&2
  timeout $((2 * seconds + 180)) "$propagation" --store=redis --coordinators="$1" \
    --agents="$2" --rate="$rate" --seconds="$seconds" >"$scratch/run.out" 2>&1 || status=1
  cat "$scratch/run.out" >>"$log"
  line=$(grep "^propagation " "$scratch/run.out" | tail -n1)
  if [ -z "$line" ]; then
    prop_rows="$prop_rows$(printf '%-6s %-7s %-7s %-8s %-6s %-26s %-26s %s' "$1" "$2" "$rate" - - FAILED "" "")
"
    status=1
    continue
  fi
  prop_rows="$prop_rows$(printf '%-6s %-7s %-7s %-8s %-6s %-26s %-26s %s' "$1" "$2" "$rate" \
    "$(field sent "$line")" "$(field lost "$line")" \
    "$(field all-agents-p50/p99/max-ms "$line")" \
    "$(field per-agent-p50/p99/max-ms "$line")" \
    "$(field cpu%-coordinator/agents/bench "$line")/$(field cpu%-redis "$line")")
"
done

echo
echo "Full output:"
sed 's/^/  /' "$log"
echo
echo "redis-benchmark -h 127.0.0.1 -P 64 -t hset -n $requests (requests/s):"
printf '%-9s %-14s %s\n' fsync hset/s "during the run"
printf '%s' "$hset_rows"
echo
echo "Ingest through Redis (8 streams, batches of 500, window 4; ratio = events/s / hset/s):"
printf '%-9s %-6s %-10s %-8s %-26s %s\n' fsync coord events/s ratio \
  "batch ack p50/p99/max ms" "cpu% coords/redis/bench"
printf '%s' "$ingest_rows"
echo
echo "Propagation on Redis, appendfsync always (ms from scheduled send, p50/p99/max):"
printf '%-6s %-7s %-7s %-8s %-6s %-26s %-26s %s\n' coord agents rate/s sent lost \
  all-agents per-agent "cpu% coord/agents/bench/redis"
printf '%s' "$prop_rows"
exit $status
