#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace relaysync {
namespace {

// mu also keeps each line whole on stderr. Never destroyed: threads may
// still log while the program exits.
struct Output {
  absl::Mutex mu;
  std::string program ABSL_GUARDED_BY(mu) = "relaysync";
};
Output& Out() {
  static Output* out = new Output;
  return *out;
}
std::atomic<bool> quiet{false};

}  // namespace

void SetLogProgramName(absl::string_view name) {
  Output& out = Out();
  absl::MutexLock l(&out.mu);
  out.program = std::string(name);
}

void SetLogQuiet(bool q) { quiet = q; }

void LogLine(LogLevel level, absl::string_view message) {
  if (level == LogLevel::kInfo && quiet) return;
  const char* tag = level == LogLevel::kInfo      ? ""
                    : level == LogLevel::kWarning ? "WARNING: "
                                                  : "ERROR: ";
  std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                      absl::UTCTimeZone());
  Output& out = Out();
  absl::MutexLock l(&out.mu);
  std::fprintf(stderr, "%s %s: %s%.*s\n", time.c_str(), out.program.c_str(),
               tag, static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace relaysync
