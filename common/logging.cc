#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace relaysync {
namespace {

std::mutex& Mu() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
std::string& Program() {
  static std::string* name = new std::string("relaysync");
  return *name;
}
std::atomic<bool> quiet{false};

}  // namespace

void SetLogProgramName(absl::string_view name) {
  std::lock_guard<std::mutex> l(Mu());
  Program() = std::string(name);
}

void SetLogQuiet(bool q) { quiet = q; }

void LogLine(LogLevel level, absl::string_view message) {
  if (level == LogLevel::kInfo && quiet) return;
  const char* tag = level == LogLevel::kInfo      ? ""
                    : level == LogLevel::kWarning ? "WARNING: "
                                                  : "ERROR: ";
  std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                      absl::UTCTimeZone());
  std::lock_guard<std::mutex> l(Mu());
  std::fprintf(stderr, "%s %s: %s%.*s\n", time.c_str(), Program().c_str(), tag,
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace relaysync
