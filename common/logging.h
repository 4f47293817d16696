// Minimal leveled logging to stderr, one line per call, safe from any
// thread: text for people ("2026-11-26T14:16:14.123Z prog: WARNING: ..."),
// or one JSON object a line for log shippers (LogEncoding). Daemons run
// under systemd or Kubernetes, which collect stderr. Every diagnostic of
// relaysync's libraries goes through here (only a main.cc writes to stderr
// itself); a warning that can repeat goes through RateLimitedLog
// (rate_limited_log.h).
#ifndef RELAYSYNC_COMMON_LOGGING_H_
#define RELAYSYNC_COMMON_LOGGING_H_

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace relaysync {

enum class LogLevel { kInfo, kWarning, kError };

// How lines are written. kJson: {"time":"2026-11-26T14:16:14.123456Z",
// "level":"info"|"warning"|"error","program":"relaysync-agent","pid":42,
// "message":"..."}, always one line of valid UTF-8 JSON, whatever bytes
// the message holds (common/json_string.h); the names are documented in
// docs/operations.md, "Logs". kText writes the message up to a NUL, with
// control bytes as \xHH so that it stays one line.
enum class LogEncoding { kText, kJson };

// "text" or "json" (a daemon's --log-encoding); nullopt for anything else.
std::optional<LogEncoding> ParseLogEncoding(absl::string_view name);
// Call once in main, after the flags are parsed and before threads log.
void SetLogEncoding(LogEncoding encoding);

// Sets the program name used as the line prefix (call once in main).
void SetLogProgramName(absl::string_view name);
// Suppresses kInfo lines (for --quiet and benchmarks).
void SetLogQuiet(bool quiet);
// A daemon's logging from its flags, in main before threads log: the
// program name, --quiet and --log-encoding. False, after logging why, for
// an encoding that is not "text" or "json" (a usage error).
bool SetUpDaemonLogging(absl::string_view program, bool quiet,
                        absl::string_view encoding);

void LogLine(LogLevel level, absl::string_view message);

// The line LogLine writes (with its '\n'), for tests.
std::string FormatLogLine(LogEncoding encoding, absl::Time time,
                          absl::string_view program, int pid, LogLevel level,
                          absl::string_view message);

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
