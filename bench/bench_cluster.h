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

  // Starts argv[0] with stdout and stderr appended to `log_path`.
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

// Starts relaysync-coordinator with the embedded store in `data_dir`,
// listening on a free loopback port, and waits (20 s at most) for its port
// file. Returns the port.
absl::StatusOr<int> StartCoordinator(ChildProcess* process,
                                     const std::string& binary,
                                     const std::string& data_dir,
                                     const std::string& port_file,
                                     const std::string& log_path);

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
