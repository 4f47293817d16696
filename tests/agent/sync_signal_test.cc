#include "agent/sync_signal.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

TEST(SyncSignalTest, AWakeIsKeptUntilAWaitTakesIt) {
  SyncSignal signal;
  EXPECT_FALSE(signal.WaitForWake(absl::ZeroDuration()));
  signal.Wake();
  signal.Wake();  // not counted: one wait takes both
  EXPECT_TRUE(signal.WaitForWake(absl::ZeroDuration()));
  EXPECT_FALSE(signal.WaitForWake(absl::Milliseconds(1)));
}

TEST(SyncSignalTest, AWakeFromAnotherThreadEndsTheWait) {
  SyncSignal signal;
  std::thread waker([&] {
    absl::SleepFor(absl::Milliseconds(20));
    signal.Wake();
  });
  EXPECT_TRUE(signal.WaitForWake(absl::Minutes(1)));
  waker.join();
}

TEST(SyncSignalTest, StopEndsEveryWaitForGood) {
  SyncSignal signal;
  EXPECT_FALSE(signal.stopping());
  EXPECT_FALSE(signal.WaitForStop(absl::Milliseconds(1)));
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(20));
    signal.Stop();
  });
  EXPECT_TRUE(signal.WaitForStop(absl::Minutes(1)));
  stopper.join();
  EXPECT_TRUE(signal.stopping());
  EXPECT_TRUE(signal.WaitForWake(absl::Minutes(1)));
  EXPECT_TRUE(signal.WaitForStop(absl::Minutes(1)));
}

}  // namespace
}  // namespace relaysync
