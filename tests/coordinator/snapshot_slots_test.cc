#include "coordinator/snapshot_slots.h"

#include <vector>

#include "gtest/gtest.h"

namespace relaysync {
namespace {

TEST(SnapshotSlotsTest, StartsAtOnceWhileASlotIsFree) {
  SnapshotSlots slots(2);
  int started = 0;
  slots.Acquire([&] { ++started; });
  slots.Acquire([&] { ++started; });
  EXPECT_EQ(started, 2);
}

TEST(SnapshotSlotsTest, TheNextWaitsForARelease) {
  SnapshotSlots slots(1);
  std::vector<int> order;
  slots.Acquire([&] { order.push_back(1); });
  slots.Acquire([&] { order.push_back(2); });
  slots.Acquire([&] { order.push_back(3); });
  EXPECT_EQ(order, std::vector<int>({1}));
  slots.Release();
  EXPECT_EQ(order, std::vector<int>({1, 2}));
  slots.Release();
  slots.Release();
  EXPECT_EQ(order, std::vector<int>({1, 2, 3}));
  // All released: the next starts at once.
  slots.Acquire([&] { order.push_back(4); });
  EXPECT_EQ(order.back(), 4);
}

}  // namespace
}  // namespace relaysync
