#include "tests/test_util.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace relaysync::testing {

ScratchDir::ScratchDir() {
  char tmpl[] = "/var/tmp/relaysync-test-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (dir == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  path_ = dir;
}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) RunShell("rm -rf '" + path_ + "'");
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

bool WaitForCondition(const std::function<bool()>& condition,
                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int CountOccurrences(const std::string& text, const std::string& what,
                     size_t from) {
  int n = 0;
  for (size_t at = text.find(what, from); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

}  // namespace relaysync::testing
