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

// Redis behind a partition: each attempt to follow it hangs for the whole
// connect timeout, then fails. The feed must try again at once rather than
// add its backoff on top, or the heal reaches the agents a second late.
class PartitionedStore : public FakeStore {
 public:
  explicit PartitionedStore(int failures) : failures_left_(failures) {}

  absl::StatusOr<uint64_t> WaitForChange(uint64_t since,
                                         absl::Duration timeout) override {
    {
      absl::MutexLock l(&attempts_mu_);
      if (failures_left_ > 0) {
        if (last_failure_end_ != absl::InfinitePast()) {
          idle_between_attempts_ += absl::Now() - last_failure_end_;
        }
        --failures_left_;
        absl::SleepFor(kConnectTimeout);
        last_failure_end_ = absl::Now();
        return absl::UnavailableError("redis: connect: Connection timed out");
      }
    }
    return FakeStore::WaitForChange(since, timeout);
  }

  static constexpr absl::Duration kConnectTimeout = absl::Milliseconds(700);

  mutable absl::Mutex attempts_mu_;
  int failures_left_ ABSL_GUARDED_BY(attempts_mu_);
  absl::Time last_failure_end_ ABSL_GUARDED_BY(attempts_mu_) =
      absl::InfinitePast();
  absl::Duration idle_between_attempts_ ABSL_GUARDED_BY(attempts_mu_);
};

TEST(ChangeFeedTest, AStoreThatTimesOutIsRetriedWithoutAnExtraWait) {
  // Between its four failures the backoff grows 200, 400, 800 ms (each
  // times a random factor in [0.5, 1]): added on top of the attempts, that
  // idles the feed 700 ms at least; counted from their start, 100 at most.
  PartitionedStore store(/*failures=*/4);
  ChangeHub hub(1000, store.Epoch(), 0);
  ChangeFeed feed(&store, &hub);
  ASSERT_TRUE(store.MergeLogins({{"10.0.0.1", kT}}, 0).ok());
  feed.Start();
  ASSERT_TRUE(
      WaitForCondition([&] { return hub.latest() == 1; }, absl::Seconds(10)));
  feed.Stop();
  absl::MutexLock l(&store.attempts_mu_);
  EXPECT_LT(store.idle_between_attempts_, absl::Milliseconds(300));
}

}  // namespace
}  // namespace relaysync
