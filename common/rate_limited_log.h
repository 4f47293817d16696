// Repeated warnings at a bounded rate, as Postfix's msg_rate_delay: a cause
// that keeps firing (a flood of refused datagrams, forged log lines) is
// logged at once, then at most once per interval with a count of the rest.
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
  explicit RateLimitedLog(absl::Duration interval) : interval_(interval) {}

  // Logs `message` at `level` if no line went out in the last `interval`;
  // otherwise only counts it. A line that follows held-back ones says how
  // many were held back. Returns whether it logged.
  bool Log(LogLevel level, absl::string_view message);
  // The same with the monotonic time given (for tests).
  bool Log(LogLevel level, absl::string_view message,
           std::chrono::steady_clock::time_point now);

 private:
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool logged_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point last_ ABSL_GUARDED_BY(mu_);
  uint64_t held_back_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_RATE_LIMITED_LOG_H_
