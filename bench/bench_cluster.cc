#include "bench/bench_cluster.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace relaysync::bench {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool IsEmptyDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return false;
  bool empty = true;
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(dir);
  return empty;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int64_t MonoNanos() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

absl::StatusOr<WorkDir> WorkDir::Create(const std::string& requested) {
  if (requested.empty()) {
    char templ[] = "/var/tmp/relaysync-bench.XXXXXX";
    if (mkdtemp(templ) == nullptr) return ErrnoError("mkdtemp", templ);
    return WorkDir(templ, /*remove=*/true);
  }
  if (mkdir(requested.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("mkdir", requested);
  }
  if (!IsEmptyDir(requested)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--work_dir ", requested, ": must be an empty (or new) directory"));
  }
  return WorkDir(requested, /*remove=*/false);
}

WorkDir::WorkDir(WorkDir&& other) noexcept
    : path_(std::move(other.path_)), remove_(other.remove_) {
  other.remove_ = false;
}

WorkDir::~WorkDir() {
  if (remove_ && !path_.empty()) {
    nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

ChildProcess::~ChildProcess() { Stop(absl::Seconds(2)); }

absl::Status ChildProcess::Start(const std::vector<std::string>& argv,
                                 const std::string& log_path) {
  int log =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return ErrnoError("open", log_path);
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return ErrnoError("fork for", argv[0]);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Not the benchmark's own sockets (a Redis connection, say): a child
    // holding a copy would keep it open.
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 1024; ++fd) close(fd);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log);
  pid_ = pid;
  return absl::OkStatus();
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

bool ChildProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return true;
  return WaitFor(
      [&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
        pid_ = -1;
        return true;
      },
      timeout, absl::Milliseconds(5));
}

void ChildProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return;
  Signal(SIGTERM);
  if (Wait(grace)) return;
  Signal(SIGKILL);
  Wait(absl::Seconds(5));
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
  return pid_ > 0;
}

double ChildProcess::CpuSeconds() const {
  if (pid_ <= 0) return -1;
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th fields of the whole line.
  const std::string stat = ReadSmallFile(absl::StrCat("/proc/", pid_, "/stat"));
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  int64_t utime = -1, stime = -1;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 && !absl::SimpleAtoi(field, &utime)) return -1;
    if (i == 15 && !absl::SimpleAtoi(field, &stime)) return -1;
  }
  if (utime < 0 || stime < 0) return -1;
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

double SelfCpuSeconds() {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  auto seconds = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
}

absl::StatusOr<int> StartCoordinator(
    ChildProcess* process, const std::string& binary,
    const std::vector<std::string>& store_flags, const std::string& port_file,
    const std::string& log_path) {
  unlink(port_file.c_str());
  // No per-agent or per-user login limits: the benchmarks measure
  // throughput, with a few users logging in from many addresses.
  std::vector<std::string> argv = {binary, "--listen=127.0.0.1:0",
                                   "--port-file=" + port_file,
                                   "--agent-login-rate=0",
                                   "--user-max-addresses=0"};
  argv.insert(argv.end(), store_flags.begin(), store_flags.end());
  absl::Status s = process->Start(argv, log_path);
  if (!s.ok()) return s;
  std::string text;
  const bool up = WaitFor(
      [&] {
        text = ReadSmallFile(port_file);
        return !text.empty() || !process->Running();
      },
      absl::Seconds(20));
  int port = 0;
  if (!up || !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port)) {
    return absl::UnavailableError(absl::StrCat(
        binary, " did not report a port within 20 s; see ", log_path));
  }
  return port;
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
      100 * (b.busy - a.busy) / (b.total - a.total),
      std::thread::hardware_concurrency(), one_cpu(b.irq - a.irq),
      one_cpu(b.steal - a.steal), std::max(0.0, rest));
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
