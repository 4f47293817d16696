#include "bench/bench_cluster.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "absl/strings/str_format.h"
#include "testing/process.h"

namespace relaysync::bench {

int64_t MonoNanos() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

absl::StatusOr<int> StartCoordinator(
    testing::Process* process, const std::string& binary,
    const std::vector<std::string>& store_flags, const std::string& port_file,
    const std::string& log_path) {
  unlink(port_file.c_str());
  // No per-agent or per-user login limits: the benchmarks measure
  // throughput, with a few users logging in from many addresses.
  std::vector<std::string> argv = {
      binary, "--listen=127.0.0.1:0", "--port-file=" + port_file,
      "--agent-login-rate=0", "--user-max-addresses=0"};
  argv.insert(argv.end(), store_flags.begin(), store_flags.end());
  // SIGTERM if the benchmark dies: the coordinator shuts down cleanly.
  absl::Status s = process->Start(argv, log_path, SIGTERM);
  if (!s.ok()) return s;
  return testing::WaitForPortFile(process, port_file, log_path,
                                  absl::Seconds(20));
}

MachineStat ReadMachineStat() {
  MachineStat m;
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return m;
  unsigned long long v[8] = {0};
  int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                      &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (n < 5) return m;
  for (unsigned long long x : v) m.total += static_cast<double>(x);
  m.busy = m.total - static_cast<double>(v[3] + v[4]);
  m.irq = static_cast<double>(v[5] + v[6]);
  m.steal = static_cast<double>(v[7]);
  return m;
}

std::string MachineLine(const MachineStat& a, const MachineStat& b, double ours,
                        double wall) {
  if (b.total <= a.total || wall <= 0) return "machine load unknown";
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto one_cpu = [&](double jiffies) { return 100 * jiffies / tick / wall; };
  const double rest =
      one_cpu(b.busy - a.busy - (b.irq - a.irq) - (b.steal - a.steal)) -
      100 * ours / wall;
  return absl::StrFormat(
      "machine busy %.0f%% of %u CPUs; in %% of one CPU: irq %.0f, steal "
      "%.0f, other processes and kernel threads %.0f",
      MachineBusy(a, b), std::thread::hardware_concurrency(),
      one_cpu(b.irq - a.irq), one_cpu(b.steal - a.steal), std::max(0.0, rest));
}

double MachineBusy(const MachineStat& a, const MachineStat& b) {
  if (b.total <= a.total) return -1;
  return 100.0 * static_cast<double>(b.busy - a.busy) /
         static_cast<double>(b.total - a.total);
}

LatencySummary Summarize(std::vector<int64_t>* samples) {
  LatencySummary s;
  s.count = samples->size();
  if (samples->empty()) return s;
  std::sort(samples->begin(), samples->end());
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(s.count) + 0.999999);
    return (*samples)[std::min(s.count, std::max<size_t>(i, 1)) - 1];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.max = samples->back();
  return s;
}

std::string FormatSummary(const LatencySummary& s) {
  if (s.count == 0) return "no samples";
  return absl::StrFormat("p50 %.2f ms  p99 %.2f ms  max %.2f ms", s.p50 / 1e6,
                         s.p99 / 1e6, s.max / 1e6);
}

}  // namespace relaysync::bench
