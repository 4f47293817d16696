// ChangeFeed: every commit reaches the hub, in order, for the real
// embedded store (its WaitForChange) and through the epoch and log edge
// cases a FakeStore can stage.
#include "coordinator/change_feed.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "backends/store/embedded_store.h"
#include "coordinator/change_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"
#include "tests/coordinator/fake_store.h"

namespace relaysync {
namespace {

using ::testing::ElementsAre;
using testing::FakeStore;
using testing::ScratchDir;
using testing::WaitForCondition;

constexpr int64_t kT = 1700000000;

std::vector<uint64_t> HubVersions(const ChangeHub& hub,
                                  const std::string& epoch) {
  std::vector<StateChange> changes;
  EXPECT_TRUE(hub.Read(epoch, 0, 1000, &changes));
  std::vector<uint64_t> out;
  for (const StateChange& c : changes) out.push_back(c.version);
  return out;
}

TEST(ChangeFeedTest, EveryCommitOfTheEmbeddedStoreReachesTheHubInOrder) {
  ScratchDir dir;
  EmbeddedStoreOptions options;
  options.data_dir = dir.File("store");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ChangeHub hub(1000, (*store)->Epoch(), 0);
  int wakes = 0;
  absl::Mutex mu;
  const int id = hub.Subscribe([&] {
    absl::MutexLock l(&mu);
    ++wakes;
  });
  ChangeFeed feed(store->get(), &hub);
  feed.Start();
  ASSERT_TRUE((*store)->MergeLogins({{"10.0.0.1", kT}}, INT64_MIN).ok());
  ASSERT_TRUE((*store)
                  ->MergeLogins({{"10.0.0.2", kT}, {"10.0.0.3", kT}}, INT64_MIN)
                  .ok());
  ASSERT_TRUE((*store)->Delete({"10.0.0.1"}, kT).ok());
  ASSERT_TRUE(
      WaitForCondition([&] { return hub.latest() == 4; }, absl::Seconds(10)));
  EXPECT_THAT(HubVersions(hub, (*store)->Epoch()), ElementsAre(1, 2, 3, 4));
  feed.Stop();
  hub.Unsubscribe(id);
  absl::MutexLock l(&mu);
  EXPECT_GE(wakes, 1);
}

TEST(ChangeFeedTest, StopEndsAWaitPromptly) {
  FakeStore store;
  ChangeHub hub(1000, store.Epoch(), 0);
  ChangeFeed feed(&store, &hub);
  feed.Start();
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  feed.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  feed.Stop();  // idempotent
}

TEST(ChangeFeedTest, CatchUpPublishesWhatTheStoreCommitted) {
  FakeStore store;
  ChangeHub hub(1000, store.Epoch(), 0);
  ChangeFeed feed(&store, &hub);
  ASSERT_TRUE(store.MergeLogins({{"10.0.0.1", kT}, {"10.0.0.2", kT}}, 0).ok());
  ASSERT_TRUE(feed.CatchUp().ok());
  EXPECT_THAT(HubVersions(hub, store.Epoch()), ElementsAre(1, 2));
  ASSERT_TRUE(feed.CatchUp().ok());  // nothing new: nothing published
  EXPECT_EQ(hub.latest(), 2u);
}

TEST(ChangeFeedTest, ANewStoreEpochResetsTheHub) {
  FakeStore store;
  ChangeHub hub(1000, store.Epoch(), 0);
  ChangeFeed feed(&store, &hub);
  ASSERT_TRUE(store.MergeLogins({{"10.0.0.1", kT}}, 0).ok());
  ASSERT_TRUE(feed.CatchUp().ok());
  store.NewEpoch("epoch-2");
  ASSERT_TRUE(feed.CatchUp().ok());
  EXPECT_EQ(hub.epoch(), "epoch-2");
  EXPECT_EQ(hub.latest(), 1u);  // the store's version then
  std::vector<StateChange> changes;
  EXPECT_FALSE(hub.Read("epoch-1", 0, 10, &changes));
}

TEST(ChangeFeedTest, ALogThatMovedPastTheHubResetsIt) {
  FakeStore store;
  ChangeHub hub(1000, store.Epoch(), 0);
  ChangeFeed feed(&store, &hub);
  ASSERT_TRUE(store
                  .MergeLogins(
                      {{"10.0.0.1", kT}, {"10.0.0.2", kT}, {"10.0.0.3", kT}}, 0)
                  .ok());
  store.TrimLogThrough(2);
  ASSERT_TRUE(feed.CatchUp().ok());
  EXPECT_EQ(hub.latest(), 3u);
  std::vector<StateChange> changes;
  // Streams that need older changes fall back to snapshots.
  EXPECT_FALSE(hub.Read(store.Epoch(), 0, 10, &changes));
}

TEST(ChangeFeedTest, AFailingStoreIsReportedAndPublishesNothing) {
  FakeStore store;
  ChangeHub hub(1000, store.Epoch(), 0);
  ChangeFeed feed(&store, &hub);
  ASSERT_TRUE(store.MergeLogins({{"10.0.0.1", kT}}, 0).ok());
  store.FailReads(absl::UnavailableError("redis: connection refused"));
  EXPECT_TRUE(absl::IsUnavailable(feed.CatchUp()));
  EXPECT_EQ(hub.latest(), 0u);
  store.FailReads(absl::OkStatus());
  ASSERT_TRUE(feed.CatchUp().ok());
  EXPECT_EQ(hub.latest(), 1u);
}

}  // namespace
}  // namespace relaysync
