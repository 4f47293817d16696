#include "common/rate_limited_log.h"

#include <chrono>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

using Steady = std::chrono::steady_clock;

TEST(RateLimitedLogTest, TheFirstLineGoesOutAtOnce) {
  RateLimitedLog log(absl::Minutes(1));
  EXPECT_TRUE(log.Log(LogLevel::kWarning, "first", Steady::now()));
}

TEST(RateLimitedLogTest, RepeatsWithinTheIntervalAreHeldBack) {
  RateLimitedLog log(absl::Minutes(1));
  const Steady::time_point t0 = Steady::now();
  EXPECT_TRUE(log.Log(LogLevel::kWarning, "a", t0));
  for (int i = 1; i <= 100; ++i) {
    EXPECT_FALSE(
        log.Log(LogLevel::kWarning, "a", t0 + std::chrono::seconds(i % 59)));
  }
}

TEST(RateLimitedLogTest, ALineGoesOutAgainOnceTheIntervalHasPassed) {
  RateLimitedLog log(absl::Minutes(1));
  const Steady::time_point t0 = Steady::now();
  EXPECT_TRUE(log.Log(LogLevel::kWarning, "a", t0));
  EXPECT_FALSE(log.Log(LogLevel::kWarning, "a", t0 + std::chrono::seconds(30)));
  EXPECT_TRUE(log.Log(LogLevel::kWarning, "a", t0 + std::chrono::seconds(60)));
  EXPECT_FALSE(log.Log(LogLevel::kWarning, "a", t0 + std::chrono::seconds(61)));
}

TEST(RateLimitedLogTest, SeveralLinesPerIntervalGoOutBeforeAnyIsHeldBack) {
  RateLimitedLog log(absl::Seconds(1), 3);
  const Steady::time_point t0 = Steady::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(log.Log(LogLevel::kWarning, "a",
                        t0 + std::chrono::milliseconds(100 * i)));
  }
  EXPECT_FALSE(
      log.Log(LogLevel::kWarning, "a", t0 + std::chrono::milliseconds(500)));
  // A new interval starts with the first line after the last one ended.
  EXPECT_TRUE(
      log.Log(LogLevel::kWarning, "a", t0 + std::chrono::milliseconds(1000)));
  EXPECT_TRUE(
      log.Log(LogLevel::kWarning, "a", t0 + std::chrono::milliseconds(1001)));
}

}  // namespace
}  // namespace relaysync
