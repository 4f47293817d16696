#include "common/backoff.h"

#include <set>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

constexpr uint64_t kSeed = 42;

TEST(BackoffTest, TheFirstWaitIsBetweenHalfAndAllOfTheInitialStep) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Backoff b(absl::Seconds(1), absl::Seconds(30), seed);
    const absl::Duration wait = b.Next();
    EXPECT_GE(wait, absl::Milliseconds(500));
    EXPECT_LE(wait, absl::Seconds(1));
  }
}

TEST(BackoffTest, EachFailureInARowDoublesTheStep) {
  Backoff b(absl::Seconds(1), absl::Minutes(10), kSeed);
  absl::Duration step = absl::Seconds(1);
  for (int i = 0; i < 8; ++i) {
    const absl::Duration wait = b.Next();
    EXPECT_GE(wait, step / 2) << i;
    EXPECT_LE(wait, step) << i;
    step *= 2;
  }
  EXPECT_EQ(b.failures(), 8);
}

TEST(BackoffTest, WaitsNeverExceedTheCap) {
  Backoff b(absl::Milliseconds(100), absl::Seconds(5), kSeed);
  absl::Duration longest;
  for (int i = 0; i < 1000; ++i) longest = std::max(longest, b.Next());
  EXPECT_LE(longest, absl::Seconds(5));
  EXPECT_GE(longest, absl::Milliseconds(2500));  // it does reach the cap
}

TEST(BackoffTest, ResetStartsAgainFromTheInitialStep) {
  Backoff b(absl::Seconds(1), absl::Seconds(30), kSeed);
  for (int i = 0; i < 10; ++i) b.Next();
  b.Reset();
  EXPECT_EQ(b.failures(), 0);
  EXPECT_LE(b.Next(), absl::Seconds(1));
}

TEST(BackoffTest, TheSameSeedGivesTheSameWaits) {
  Backoff a(absl::Seconds(1), absl::Seconds(30), kSeed);
  Backoff b(absl::Seconds(1), absl::Seconds(30), kSeed);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(BackoffTest, JitterSpreadsProcessesThatFailedTogether) {
  std::set<int64_t> first_waits;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Backoff b(absl::Seconds(1), absl::Seconds(30), seed);
    first_waits.insert(absl::ToInt64Microseconds(b.Next()));
  }
  EXPECT_GT(first_waits.size(), 15u);
}

TEST(BackoffTest, NonsensicalBoundsAreClamped) {
  Backoff zero(absl::ZeroDuration(), absl::ZeroDuration(), kSeed);
  EXPECT_GT(zero.Next(), absl::ZeroDuration());
  Backoff inverted(absl::Seconds(2), absl::Seconds(1), kSeed);
  EXPECT_EQ(inverted.max(), absl::Seconds(2));
  for (int i = 0; i < 5; ++i) EXPECT_LE(inverted.Next(), absl::Seconds(2));
}

}  // namespace
}  // namespace relaysync
