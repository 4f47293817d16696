#include "testing/process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace relaysync::testing {

Process::~Process() { Stop(SIGKILL); }

absl::Status Process::Start(const std::vector<std::string>& argv,
                            const std::string& log_path, int death_signal) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  const int log =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    return absl::UnavailableError(
        absl::StrCat("open ", log_path, ": ", std::strerror(errno)));
  }
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(log);
    return absl::UnavailableError(
        absl::StrCat("fork for ", argv[0], ": ", std::strerror(err)));
  }
  if (pid == 0) {
    // Only system calls from here on: the parent may have threads.
    prctl(PR_SET_PDEATHSIG, death_signal);
    if (getppid() != parent) _exit(127);  // it died before the prctl
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    // Unblock what the test runner may have blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 65536; ++fd) close(fd);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log);
  pid_ = pid;
  return absl::OkStatus();
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

void Process::Stop(int sig, absl::Duration grace) {
  if (pid_ <= 0) return;
  Signal(sig);
  Wait(grace);
  if (pid_ <= 0) return;
  Signal(SIGKILL);
  Wait(absl::Seconds(5));
}

int Process::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  int code = -1;
  WaitForCondition(
      [&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
        pid_ = -1;
        if (WIFEXITED(status)) code = WEXITSTATUS(status);
        return true;
      },
      timeout, absl::Milliseconds(5));
  return code;
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
  return pid_ > 0;
}

double CpuSecondsOf(pid_t pid) {
  if (pid <= 0) return -1;
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th fields of the whole line.
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
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

int64_t ProcStatusKib(pid_t pid, absl::string_view field) {
  if (pid <= 0) return -1;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (!absl::ConsumePrefix(&line, field) ||
        !absl::ConsumePrefix(&line, ":")) {
      continue;
    }
    int64_t kib;
    return absl::SimpleAtoi(
               absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kib)
               ? kib
               : -1;
  }
  return -1;
}

double SelfCpuSeconds() {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  auto seconds = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

int RunCommand(const std::vector<std::string>& argv, std::string* output,
               absl::Duration timeout) {
  ScratchDir dir;
  const std::string log = dir.File("out");
  Process p;
  if (!p.Start(argv, log).ok()) return -1;
  const int code = p.Wait(timeout);
  p.Stop(SIGKILL);
  if (output != nullptr) *output = ReadFile(log);
  return code;
}

CommandResult RunShell(const std::string& command, const std::string& input) {
  char in_tmpl[] = "/var/tmp/relaysync-stdin-XXXXXX";
  int in_fd = mkstemp(in_tmpl);
  if (in_fd < 0) return {-1, ""};
  if (!input.empty() && write(in_fd, input.data(), input.size()) !=
                            static_cast<ssize_t>(input.size())) {
    close(in_fd);
    unlink(in_tmpl);
    return {-1, ""};
  }
  close(in_fd);
  std::string full = "(" + command + ") < '" + in_tmpl + "'";
  FILE* pipe = popen(full.c_str(), "r");
  CommandResult result{-1, ""};
  if (pipe != nullptr) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
      result.output.append(buf, n);
    }
    int status = pclose(pipe);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  }
  unlink(in_tmpl);
  return result;
}

absl::StatusOr<int> WaitForPortFile(Process* process,
                                    const std::string& port_file,
                                    const std::string& log_path,
                                    absl::Duration timeout) {
  std::string text;
  const bool up = WaitForCondition(
      [&] {
        text = ReadFile(port_file);
        return !text.empty() || !process->Running();
      },
      timeout);
  int port = 0;
  if (!up || !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port)) {
    return absl::UnavailableError(
        absl::StrCat("no port in ", port_file, " within ",
                     absl::FormatDuration(timeout), "; see ", log_path));
  }
  return port;
}

}  // namespace relaysync::testing
