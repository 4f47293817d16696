// Child processes for integration tests: start a real binary with its output
// in a log file, signal it, wait for it. Every wait is bounded.
#ifndef RELAYSYNC_TESTS_INTEGRATION_PROCESS_H_
#define RELAYSYNC_TESTS_INTEGRATION_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace relaysync::testing {

class Process {
 public:
  Process() = default;
  ~Process();  // SIGKILLs a still-running child
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts argv[0] with `argv`, stdout+stderr appended to `log_path`. The
  // child gets SIGKILL if the thread that started it ends first.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path);
  // Sends `sig`; with `wait`, reaps the child (bounded by 10 s).
  void Signal(int sig, bool wait = true);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Waits up to `timeout` for the child to exit; returns its exit code, or
  // -1 (not exited / killed by a signal).
  int Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
};

// Runs a command to completion (bounded by `timeout`); returns its exit code
// and puts its combined output in `output`.
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               absl::Duration timeout = absl::Seconds(30));

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_INTEGRATION_PROCESS_H_
