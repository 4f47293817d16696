// Plumbing shared by the cluster benchmarks (propagation_bench, ingest_bench):
// a scratch directory, the real relaysync binaries as child processes with
// their output in log files, CPU accounting from /proc, and latency
// percentiles. Every wait is bounded.
#ifndef RELAYSYNC_BENCH_BENCH_CLUSTER_H_
#define RELAYSYNC_BENCH_BENCH_CLUSTER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace relaysync::bench {

// CLOCK_MONOTONIC in nanoseconds: the time base of every latency measured.
int64_t MonoNanos();

// The directory the benchmark works in. Without `requested` it is a fresh
// mkdtemp under /var/tmp (same file system as a real /var/spool and
// /etc/mail, unlike a tmpfs /tmp) and is removed, contents and all, by the
// destructor. A `requested` directory is created if missing, must be empty,
// and is kept (logs and maps stay for inspection).
class WorkDir {
 public:
  static absl::StatusOr<WorkDir> Create(const std::string& requested);
  WorkDir(WorkDir&& other) noexcept;
  WorkDir& operator=(WorkDir&&) = delete;
  WorkDir(const WorkDir&) = delete;
  ~WorkDir();

  const std::string& path() const { return path_; }
  // Leaves the directory in place (after a failure, for its logs).
  void Keep() { remove_ = false; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  WorkDir(std::string path, bool remove)
      : path_(std::move(path)), remove_(remove) {}
  std::string path_;
  bool remove_ = false;
};

// One child process. It gets SIGTERM if the benchmark dies (PR_SET_PDEATHSIG),
// so an interrupted run leaves no agents behind. Not thread-safe.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // Stop() with a short grace period
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (looked up in PATH if it has no '/') with stdout and
  // stderr appended to `log_path`.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::string& log_path);
  void Signal(int sig);
  // Reaps the child if it has exited within `timeout`; true if it is gone.
  bool Wait(absl::Duration timeout);
  // SIGTERM, then SIGKILL if it is still there after `grace`.
  void Stop(absl::Duration grace = absl::Seconds(10));
  // False once the child has exited (checked without blocking).
  bool Running();
  pid_t pid() const { return pid_; }
  // User + system CPU seconds the child has used so far (/proc/PID/stat);
  // -1 if it cannot be read.
  double CpuSeconds() const;

 private:
  pid_t pid_ = -1;
};

// User + system CPU seconds of this process so far (getrusage).
double SelfCpuSeconds();

// Polls `condition` every `interval` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration interval = absl::Milliseconds(10));

// Starts relaysync-coordinator with `store_flags` (BenchStore::
// CoordinatorFlags), listening on a free loopback port, and waits (20 s at
// most) for its port file. Returns the port.
absl::StatusOr<int> StartCoordinator(
    ChildProcess* process, const std::string& binary,
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
