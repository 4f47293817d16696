# shellcheck shell=sh disable=SC2154
# lib.sh -- shell helpers shared by the benchmark scripts (POSIX sh).
# The caller sets $idle_wait (seconds) and $log (a file) before using
# wait_for_idle.

# Busy percentage of all CPUs over one second, from /proc/stat.
busy_percent() {
  a=$(head -n1 /proc/stat)
  sleep 1
  b=$(head -n1 /proc/stat)
  echo "$a
$b" | awk '{ idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i;
             if (NR == 1) { i0 = idle; t0 = total } else { i1 = idle; t1 = total } }
           END { if (t1 > t0) printf "%d\n", 100 * (1 - (i1 - i0) / (t1 - t0)); else print 0 }'
}

# Waits until the machine is below 15% busy, for at most $idle_wait seconds.
wait_for_idle() {
  waited=0
  while [ "$waited" -lt "$idle_wait" ]; do
    busy=$(busy_percent)
    [ "$busy" -lt 15 ] && return 0
    waited=$((waited + 1))
  done
  echo "warning: machine still ${busy}% busy after ${idle_wait}s; running anyway" | tee -a "$log" >&2
}

# Value of KEY=VALUE in a result line.
field() {
  echo "$2" | awk -v k="$1=" '{ for (i = 1; i <= NF; i++)
    if (index($i, k) == 1) print substr($i, length(k) + 1) }'
}
