// Plumbing shared by the cluster benchmarks (propagation_bench, ingest_bench):
// starting a coordinator, CPU accounting, and latency percentiles. Child
// processes, work directories and waiting are testing/'s, as for the tests.
#ifndef RELAYSYNC_BENCH_BENCH_CLUSTER_H_
#define RELAYSYNC_BENCH_BENCH_CLUSTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/process.h"

namespace relaysync::bench {

// CLOCK_MONOTONIC in nanoseconds: the time base of every latency measured.
int64_t MonoNanos();

// Starts relaysync-coordinator with `store_flags` (BenchStore::
// CoordinatorFlags), listening on a free loopback port, and waits (20 s at
// most) for its port file. Returns the port.
absl::StatusOr<int> StartCoordinator(
    testing::Process* process, const std::string& binary,
    const std::vector<std::string>& store_flags, const std::string& port_file,
    const std::string& log_path);

// Jiffies of the whole machine, from the first line of /proc/stat.
struct MachineStat {
  double busy = 0;  // everything but idle and iowait
  double total = 0;
  double irq = 0;    // hard and soft interrupts
  double steal = 0;  // taken by the hypervisor
};
MachineStat ReadMachineStat();
// How busy all CPUs together were between the samples, in % (-1: unknown).
double MachineBusy(const MachineStat& before, const MachineStat& after);
// "machine busy 97% of 2 CPUs; in % of one CPU: irq 12, steal 0, other
// processes and kernel threads 30", where `ours` is the CPU seconds the
// benchmark's own processes (and itself) used over the `wall` seconds.
std::string MachineLine(const MachineStat& before, const MachineStat& after,
                        double ours, double wall);

// p50 / p99 / max of a set of durations in nanoseconds.
struct LatencySummary {
  size_t count = 0;
  int64_t p50 = 0;
  int64_t p99 = 0;
  int64_t max = 0;
};
// Sorts `samples` in place (nearest-rank percentiles).
LatencySummary Summarize(std::vector<int64_t>* samples);
// "p50 1.23 ms  p99 4.56 ms  max 7.89 ms", or "no samples".
std::string FormatSummary(const LatencySummary& s);

}  // namespace relaysync::bench

#endif  // RELAYSYNC_BENCH_BENCH_CLUSTER_H_
