#include "coordinator/change_hub.h"

#include <atomic>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

std::vector<StateChange> Changes(uint64_t from, uint64_t to) {
  std::vector<StateChange> out;
  for (uint64_t v = from; v <= to; ++v) {
    out.push_back(
        StateChange{v, "10.0.0." + std::to_string(v % 250), 1, false});
  }
  return out;
}

TEST(ChangeHubTest, ReadsChangesAfterAVersion) {
  ChangeHub hub(100, "e", 10);
  hub.Publish(Changes(11, 20));
  std::vector<StateChange> out;
  ASSERT_TRUE(hub.Read("e", 15, 3, &out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].version, 16u);
  EXPECT_EQ(out[2].version, 18u);
  out.clear();
  ASSERT_TRUE(hub.Read("e", 20, 10, &out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(hub.latest(), 20u);
}

TEST(ChangeHubTest, SaysWhenAVersionIsOlderThanMemory) {
  ChangeHub hub(5, "e", 0);
  hub.Publish(Changes(1, 20));
  std::vector<StateChange> out;
  EXPECT_FALSE(hub.Read("e", 10, 10, &out));  // 11..15 were dropped
  EXPECT_TRUE(hub.Read("e", 15, 10, &out));
  EXPECT_EQ(out.size(), 5u);
  ChangeHub fresh(5, "e", 100);
  EXPECT_FALSE(fresh.Read("e", 50, 10, &out)) << "nothing before the base";
}

TEST(ChangeHubTest, IgnoresRepublishedVersions) {
  ChangeHub hub(100, "e", 0);
  hub.Publish(Changes(1, 5));
  hub.Publish(Changes(3, 7));
  std::vector<StateChange> out;
  ASSERT_TRUE(hub.Read("e", 0, 100, &out));
  ASSERT_EQ(out.size(), 7u);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].version, i + 1);
}

TEST(ChangeHubTest, ResetStartsANewEpoch) {
  ChangeHub hub(100, "old", 0);
  hub.Publish(Changes(1, 5));
  std::vector<StateChange> out;
  hub.Reset("new", 2);
  EXPECT_FALSE(hub.Read("old", 1, 10, &out)) << "the old epoch is gone";
  ASSERT_TRUE(hub.Read("new", 2, 10, &out));
  EXPECT_TRUE(out.empty());
  hub.Publish(Changes(3, 3));
  ASSERT_TRUE(hub.Read("new", 2, 10, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(hub.epoch(), "new");
}

TEST(ChangeHubTest, WakesSubscribersUntilUnsubscribed) {
  ChangeHub hub(100, "e", 0);
  std::atomic<int> woken{0};
  int id = hub.Subscribe([&] { ++woken; });
  hub.Publish(Changes(1, 1));
  hub.Publish({});  // nothing new: no wake-up
  EXPECT_EQ(woken.load(), 1);
  hub.Unsubscribe(id);
  hub.Publish(Changes(2, 2));
  EXPECT_EQ(woken.load(), 1);
}

}  // namespace
}  // namespace relaysync
