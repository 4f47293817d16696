// The per-agent token bucket.
#include "coordinator/rate_limiter.h"

#include "gtest/gtest.h"

namespace relaysync {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(RateLimiterTest, NoLimitAdmitsEverything) {
  RateLimiter limiter({});
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(limiter.Admit("mx1", 1000, kT0));
  }
}

TEST(RateLimiterTest, BurstThenRate) {
  RateLimiter limiter({/*per_second=*/10, /*burst=*/100});
  EXPECT_TRUE(limiter.Admit("mx1", 60, kT0));
  EXPECT_FALSE(limiter.Admit("mx1", 60, kT0));  // 40 left
  EXPECT_TRUE(limiter.Admit("mx1", 40, kT0));
  EXPECT_FALSE(limiter.Admit("mx1", 1, kT0));
  EXPECT_FALSE(limiter.Admit("mx1", 2, kT0 + absl::Seconds(0.15)));
  EXPECT_TRUE(limiter.Admit("mx1", 2, kT0 + absl::Seconds(0.3)));
}

TEST(RateLimiterTest, ABatchLargerThanTheBurstWaitsForAFullBucket) {
  RateLimiter limiter({10, 100});
  EXPECT_TRUE(limiter.Admit("mx1", 1, kT0));
  EXPECT_FALSE(limiter.Admit("mx1", 300, kT0));  // 99 tokens: not full
  const absl::Time full = kT0 + absl::Seconds(0.1);
  EXPECT_TRUE(limiter.Admit("mx1", 300, full));  // whole, into debt: -200
  // The debt is paid at the rate before anything else goes: 20 s.
  EXPECT_FALSE(limiter.Admit("mx1", 1, full + absl::Seconds(20)));
  EXPECT_TRUE(limiter.Admit("mx1", 1, full + absl::Seconds(20.1)));
}

TEST(RateLimiterTest, ARefusalSaysWhenTheSameCostWouldBeAdmitted) {
  RateLimiter limiter({10, 100});
  EXPECT_TRUE(limiter.Admit("mx1", 100, kT0));
  absl::Duration retry_after;
  EXPECT_FALSE(limiter.Admit("mx1", 30, kT0, &retry_after));
  EXPECT_EQ(retry_after, absl::Seconds(3));
  EXPECT_FALSE(limiter.Admit("mx1", 30, kT0 + absl::Seconds(2.9)));
  EXPECT_TRUE(limiter.Admit("mx1", 30, kT0 + retry_after));
  // Above the burst it waits for a full bucket, not for the whole cost.
  EXPECT_TRUE(limiter.Admit("mx2", 1, kT0));
  EXPECT_FALSE(limiter.Admit("mx2", 300, kT0, &retry_after));
  EXPECT_EQ(retry_after, absl::Seconds(0.1));
}

TEST(RateLimiterTest, HostsHaveBucketsOfTheirOwn) {
  RateLimiter limiter({10, 10});
  EXPECT_TRUE(limiter.Admit("mx1", 100, kT0));
  EXPECT_FALSE(limiter.Admit("mx1", 1, kT0));
  EXPECT_TRUE(limiter.Admit("mx2", 1, kT0));
}

TEST(RateLimiterTest, TheBucketNeverHoldsMoreThanTheBurst) {
  RateLimiter limiter({10, 50});
  EXPECT_TRUE(limiter.Admit("mx1", 1, kT0));
  // An hour idle refills to 50, not 36,000.
  const absl::Time later = kT0 + absl::Hours(1);
  EXPECT_TRUE(limiter.Admit("mx1", 50, later));
  EXPECT_FALSE(limiter.Admit("mx1", 1, later));
}

}  // namespace
}  // namespace relaysync
