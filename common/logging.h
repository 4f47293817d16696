// Minimal leveled logging to stderr ("2026-11-26T14:16:14Z prog: WARNING:
// ..."), one line per call, safe from any thread. Daemons run under systemd
// or Kubernetes, which collect stderr. Every diagnostic of relaysync's
// libraries goes through here (only a main.cc writes to stderr itself);
// a warning that can repeat goes through RateLimitedLog
// (rate_limited_log.h).
#ifndef RELAYSYNC_COMMON_LOGGING_H_
#define RELAYSYNC_COMMON_LOGGING_H_

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace relaysync {

enum class LogLevel { kInfo, kWarning, kError };

// Sets the program name used as the line prefix (call once in main).
void SetLogProgramName(absl::string_view name);
// Suppresses kInfo lines (for --quiet and benchmarks).
void SetLogQuiet(bool quiet);

void LogLine(LogLevel level, absl::string_view message);

template <typename... Args>
void LogInfo(const Args&... args) {
  LogLine(LogLevel::kInfo, absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  LogLine(LogLevel::kWarning, absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  LogLine(LogLevel::kError, absl::StrCat(args...));
}

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_LOGGING_H_
