// Repeated warnings at a bounded rate, as Postfix's msg_rate_delay: a cause
// that keeps firing (a flood of refused datagrams, forged log lines, a file
// that stays unreadable) is logged at once, then at most `lines` times per
// interval with a count of the rest. The one rate limiter for log lines:
// every repeated warning goes through it, never a home-made counter.
#ifndef RELAYSYNC_COMMON_RATE_LIMITED_LOG_H_
#define RELAYSYNC_COMMON_RATE_LIMITED_LOG_H_

#include <chrono>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace relaysync {

// One instance per kind of repeated message. Thread-safe.
class RateLimitedLog {
 public:
  // At most `lines` (>= 1) lines per `interval`; the interval starts with
  // the first line that goes out after the previous one ended.
  explicit RateLimitedLog(absl::Duration interval, int lines = 1)
      : interval_(interval), lines_(lines < 1 ? 1 : lines) {}

  // Logs `message` at `level` unless this interval's lines have all gone
  // out; otherwise only counts it. A line that follows held-back ones says
  // how many were held back. Returns whether it logged.
  bool Log(LogLevel level, absl::string_view message);
  // The same with the monotonic time given (for tests).
  bool Log(LogLevel level, absl::string_view message,
           std::chrono::steady_clock::time_point now);

 private:
  const absl::Duration interval_;
  const int lines_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point interval_start_ ABSL_GUARDED_BY(mu_);
  int logged_in_interval_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t held_back_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_RATE_LIMITED_LOG_H_
