// See rate_limited_log.h.
#include "common/rate_limited_log.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace relaysync {

bool RateLimitedLog::Log(LogLevel level, absl::string_view message) {
  return Log(level, message, std::chrono::steady_clock::now());
}

bool RateLimitedLog::Log(LogLevel level, absl::string_view message,
                         std::chrono::steady_clock::time_point now) {
  uint64_t held_back = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!started_ ||
        now - interval_start_ >= absl::ToChronoNanoseconds(interval_)) {
      started_ = true;
      interval_start_ = now;
      logged_in_interval_ = 0;
    }
    if (logged_in_interval_ >= lines_) {
      ++held_back_;
      return false;
    }
    ++logged_in_interval_;
    held_back = held_back_;
    held_back_ = 0;
  }
  if (held_back == 0) {
    LogLine(level, message);
  } else {
    LogLine(level, absl::StrCat(message, " (", held_back,
                                " more like it not logged in the last ",
                                absl::FormatDuration(interval_), ")"));
  }
  return true;
}

}  // namespace relaysync
