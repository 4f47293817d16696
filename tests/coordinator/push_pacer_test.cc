#include "coordinator/push_pacer.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace relaysync {
namespace {

using std::chrono::steady_clock;

TEST(PushPacerTest, WithoutABudgetNothingWaits) {
  PushPacer pacer(0);
  pacer.SetStreams(100000);
  EXPECT_EQ(pacer.Interval(), absl::ZeroDuration());
  const auto now = steady_clock::now();
  EXPECT_TRUE(pacer.Due(now, now));
}

TEST(PushPacerTest, TheIntervalIsStreamsOverTheBudget) {
  PushPacer pacer(5000);
  pacer.SetStreams(32);
  EXPECT_EQ(pacer.Interval(), absl::Microseconds(6400));
}

// Even one stream gets at most one push per kMinInterval: a change that
// follows a push sooner rides on the next beat with whatever else came.
// One that follows a quiet spell still goes at once.
TEST(PushPacerTest, AnIntervalUnderTheMinimumIsTheMinimum) {
  PushPacer pacer(5000);
  pacer.SetStreams(1);  // 0.2 ms
  EXPECT_EQ(pacer.Interval(), PushPacer::kMinInterval);
  pacer.SetStreams(8);  // 1.6 ms
  EXPECT_EQ(pacer.Interval(), PushPacer::kMinInterval);
  pacer.SetStreams(16);  // 3.2 ms
  EXPECT_EQ(pacer.Interval(), absl::Microseconds(3200));
  const auto now = steady_clock::now();
  EXPECT_FALSE(pacer.Due(now - std::chrono::microseconds(500), now));
  EXPECT_TRUE(pacer.Due(now - std::chrono::milliseconds(50), now));
}

TEST(PushPacerTest, ALongIntervalIsCutToTheMaximum) {
  PushPacer pacer(10);
  pacer.SetStreams(1000);
  EXPECT_EQ(pacer.Interval(), PushPacer::kMaxInterval);
}

TEST(PushPacerTest, APushIsDueOnceTheIntervalHasPassed) {
  PushPacer pacer(1000);
  pacer.SetStreams(10);  // 10 ms
  const auto last = steady_clock::now();
  EXPECT_FALSE(pacer.Due(last, last + std::chrono::milliseconds(9)));
  EXPECT_TRUE(pacer.Due(last, last + std::chrono::milliseconds(10)));
}

TEST(PushPacerTest, EveryWaitingStreamGoesOnOneBeat) {
  PushPacer pacer(100);
  pacer.SetStreams(5);  // 50 ms
  std::atomic<int> beats{0};
  std::atomic<std::thread::id> first{}, second{};
  absl::Notification both;
  pacer.WaitForBeat([&] {
    first = std::this_thread::get_id();
    if (++beats == 2) both.Notify();
  });
  pacer.WaitForBeat([&] {
    second = std::this_thread::get_id();
    if (++beats == 2) both.Notify();
  });
  ASSERT_TRUE(both.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(first.load(), second.load());  // the beat thread
  EXPECT_NE(first.load(), std::this_thread::get_id());
}

TEST(PushPacerTest, BeatsAreAnIntervalApart) {
  const auto start = steady_clock::now();
  PushPacer pacer(100);
  pacer.SetStreams(5);  // 50 ms
  steady_clock::time_point one_at, two_at;
  absl::Notification one, two;
  pacer.WaitForBeat([&] {
    one_at = steady_clock::now();
    one.Notify();
  });
  ASSERT_TRUE(one.WaitForNotificationWithTimeout(absl::Seconds(10)));
  pacer.WaitForBeat([&] {
    two_at = steady_clock::now();
    two.Notify();
  });
  ASSERT_TRUE(two.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The first beat is an interval after the pacer started, the second an
  // interval after the first was due.
  EXPECT_GE(one_at - start, std::chrono::milliseconds(50));
  EXPECT_GE(two_at - start, std::chrono::milliseconds(100));
}

TEST(PushPacerTest, StopRunsTheWaitingBeatsAndLaterOnesAtOnce) {
  PushPacer pacer(1);
  pacer.SetStreams(1000);  // capped at 100 ms
  int before = 0;
  pacer.WaitForBeat([&] { ++before; });
  pacer.Stop();
  EXPECT_EQ(before, 1);
  bool after = false;
  pacer.WaitForBeat([&] { after = true; });
  EXPECT_TRUE(after);
  pacer.Stop();  // idempotent
}

}  // namespace
}  // namespace relaysync
