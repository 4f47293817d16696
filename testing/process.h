// Child processes for tests and benchmarks: start a real binary with its
// output in a log file, signal it, wait for it, read its CPU time. Every
// wait is bounded. Also one-shot commands (RunCommand, RunShell).
#ifndef RELAYSYNC_TESTING_PROCESS_H_
#define RELAYSYNC_TESTING_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace relaysync::testing {

// User + system CPU seconds process `pid` has used so far (/proc/PID/stat);
// -1 if it cannot be read.
double CpuSecondsOf(pid_t pid);
// The same for this process (getrusage).
double SelfCpuSeconds();
// A kB figure of /proc/PID/status ("VmRSS", "VmHWM", ...) in KiB; -1 if it
// cannot be read.
int64_t ProcStatusKib(pid_t pid, absl::string_view field);

// One child process. Not thread-safe. The destructor SIGKILLs and reaps a
// child that is still running.
class Process {
 public:
  Process() = default;
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts argv[0] (looked up in PATH if it has no '/') with `argv`:
  // stdout and stderr appended to `log_path`, stdin from /dev/null, no
  // signal blocked and no descriptor of ours inherited (a copy of a test's
  // connection would keep it open). The child gets `death_signal` if the
  // thread that started it ends first, so that a test or benchmark that
  // dies leaves no process behind. Errors name the log or the program.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::string& log_path, int death_signal = SIGKILL);
  // Sends `sig` and returns at once.
  void Signal(int sig);
  // Sends `sig` and reaps the child; SIGKILL if it is still there after
  // `grace` (then up to 5 s more).
  void Stop(int sig = SIGTERM, absl::Duration grace = absl::Seconds(10));
  // Waits up to `timeout` for the child to exit and reaps it; returns its
  // exit code, or -1 (still running, killed by a signal, or none started).
  int Wait(absl::Duration timeout);
  // False once the child has exited (reaped without blocking) or if none
  // was started.
  bool Running();
  // The child's pid; -1 once it is reaped.
  pid_t pid() const { return pid_; }
  // User + system CPU seconds the child has used so far; -1 if none.
  double CpuSeconds() const { return CpuSecondsOf(pid_); }

 private:
  pid_t pid_ = -1;
};

// Runs `argv` (as Process::Start) to completion, bounded by `timeout`
// (SIGKILL after it); returns its exit code (-1 as Process::Wait) and puts
// its combined output in `output` (if not null).
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               absl::Duration timeout = absl::Seconds(30));

struct CommandResult {
  int exit_code;       // -1 if it did not exit normally
  std::string output;  // stdout
};

// Runs `command` with /bin/sh, feeding `input` on stdin.
CommandResult RunShell(const std::string& command,
                       const std::string& input = "");

// Waits (up to `timeout`) for a server started as `process` to write the
// port it listens on to `port_file`, as relaysync-coordinator --port-file
// does. Unavailable, naming `log_path`, if it exits first or never does.
absl::StatusOr<int> WaitForPortFile(Process* process,
                                    const std::string& port_file,
                                    const std::string& log_path,
                                    absl::Duration timeout);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTING_PROCESS_H_
