// Helpers shared by tests: scratch directories and running shell commands.
#ifndef RELAYSYNC_TESTS_TEST_UTIL_H_
#define RELAYSYNC_TESTS_TEST_UTIL_H_

#include <functional>
#include <string>

#include "absl/time/time.h"

namespace relaysync::testing {

// A fresh directory (mode 0700, under /var/tmp so that sendmail-style
// "unsafe path" checks pass) removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code;       // -1 if it did not exit normally
  std::string output;  // stdout
};

// Runs `command` with /bin/sh, feeding `input` on stdin.
CommandResult RunShell(const std::string& command,
                       const std::string& input = "");

std::string ReadFile(const std::string& path);

// How often `what` occurs in `text` from byte `from` on (e.g. reconnects
// in a log).
int CountOccurrences(const std::string& text, const std::string& what,
                     size_t from = 0);

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool WaitForCondition(const std::function<bool()>& condition,
                      absl::Duration timeout);
void WriteFile(const std::string& path, const std::string& contents);

}  // namespace relaysync::testing

#endif  // RELAYSYNC_TESTS_TEST_UTIL_H_
