#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_string.h"

namespace relaysync {
namespace {

// mu also keeps each line whole on stderr. Never destroyed: threads may
// still log while the program exits.
struct Output {
  absl::Mutex mu;
  std::string program ABSL_GUARDED_BY(mu) = "relaysync";
  int pid ABSL_GUARDED_BY(mu) = static_cast<int>(getpid());
};
Output& Out() {
  static Output* out = new Output;
  return *out;
}
std::atomic<bool> quiet{false};
std::atomic<LogEncoding> g_encoding{LogEncoding::kText};

}  // namespace

void SetLogProgramName(absl::string_view name) {
  Output& out = Out();
  absl::MutexLock l(&out.mu);
  out.program = std::string(name);
  out.pid = static_cast<int>(getpid());
}

void SetLogQuiet(bool q) { quiet = q; }

std::optional<LogEncoding> ParseLogEncoding(absl::string_view name) {
  if (name == "text") return LogEncoding::kText;
  if (name == "json") return LogEncoding::kJson;
  return std::nullopt;
}

void SetLogEncoding(LogEncoding e) { g_encoding = e; }

bool SetUpDaemonLogging(absl::string_view program, bool quiet,
                        absl::string_view encoding) {
  SetLogProgramName(program);
  SetLogQuiet(quiet);
  const std::optional<LogEncoding> e = ParseLogEncoding(encoding);
  if (!e) {
    LogError("--log-encoding: \"", encoding, "\": text or json");
    return false;
  }
  SetLogEncoding(*e);
  return true;
}

std::string FormatLogLine(LogEncoding encoding, absl::Time time,
                          absl::string_view program, int pid, LogLevel level,
                          absl::string_view message) {
  std::string line;
  if (encoding == LogEncoding::kText) {
    const char* tag = level == LogLevel::kInfo      ? ""
                      : level == LogLevel::kWarning ? "WARNING: "
                                                    : "ERROR: ";
    line = absl::StrCat(
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()),
        " ", program, ": ", tag);
    // Up to a NUL, as printf("%s") wrote it before json existed. Other
    // control bytes as \xHH: a message quoting outside text (a log line,
    // a user name) stays one line and cannot forge the next one.
    for (char c : message.substr(0, message.find('\0'))) {
      const unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        absl::StrAppend(&line, "\\x", absl::Hex(u, absl::kZeroPad2));
      } else {
        line += c;
      }
    }
    line += '\n';
    return line;
  }
  const char* name = level == LogLevel::kInfo      ? "info"
                     : level == LogLevel::kWarning ? "warning"
                                                   : "error";
  // RFC 3339 in UTC with microseconds: lines of one second stay ordered.
  absl::StrAppend(
      &line, "{\"time\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone()),
      "\",\"level\":\"", name, "\",\"program\":");
  AppendJsonString(&line, program);
  absl::StrAppend(&line, ",\"pid\":", pid, ",\"message\":");
  AppendJsonString(&line, message);
  line += "}\n";
  return line;
}

void LogLine(LogLevel level, absl::string_view message) {
  if (level == LogLevel::kInfo && quiet) return;
  const absl::Time now = absl::Now();
  Output& out = Out();
  absl::MutexLock l(&out.mu);
  const std::string line =
      FormatLogLine(g_encoding, now, out.program, out.pid, level, message);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace relaysync
