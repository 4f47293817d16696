// AgentFeed against a FakeStore and a real ChangeHub: what an agent is
// sent, in which order, and which store reads that takes. Store reads run
// inline here (RunLoad), where the stream would post them to a worker.
#include "coordinator/agent_feed.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "coordinator/change_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/fake_store.h"

namespace relaysync {
namespace {

// AgentFeed::Start on a store that answers.
std::optional<uint64_t> StartOk(AgentFeed& feed, const v1::Hello& hello) {
  absl::StatusOr<std::optional<uint64_t>> start = feed.Start(hello);
  EXPECT_TRUE(start.ok()) << start.status();
  return start.ok() ? *start : std::nullopt;
}

using ::testing::ElementsAre;
using testing::FakeStore;
using ::testing::IsEmpty;
using v1::CoordinatorMessage;
using Load = AgentFeed::Load;

constexpr int64_t kT = 1700000000;

std::string Addr(int i) { return "10.0.0." + std::to_string(i); }

v1::Hello HelloAt(const std::string& epoch, uint64_t applied) {
  v1::Hello hello;
  hello.set_host_id("mx1");
  hello.set_store_epoch(epoch);
  hello.set_applied_version(applied);
  return hello;
}

std::vector<uint64_t> Versions(const CoordinatorMessage& msg) {
  std::vector<uint64_t> out;
  for (const v1::Delta& d : msg.deltas().deltas()) out.push_back(d.version());
  return out;
}

std::vector<std::string> Acked(const CoordinatorMessage& msg) {
  return {msg.ack().event_ids().begin(), msg.ack().event_ids().end()};
}

class AgentFeedTest : public ::testing::Test {
 protected:
  // `logins` new addresses into the store, published to the hub as the
  // ChangeFeed would.
  void Commit(int logins) {
    std::vector<Login> batch;
    for (int i = 0; i < logins; ++i) batch.emplace_back(Addr(next_++), kT);
    absl::StatusOr<MutationResult> r = store_.MergeLogins(batch, INT64_MIN);
    ASSERT_TRUE(r.ok());
    hub_.Publish(r->changes);
    feed_.HubMoved();
  }

  // The next message, with no store read asked for; fails the test
  // otherwise.
  CoordinatorMessage Next() {
    CoordinatorMessage msg;
    Load load;
    EXPECT_TRUE(feed_.Next(&msg, &load));
    EXPECT_EQ(load, Load::kNone);
    return msg;
  }

  // Nothing due now; returns the store read asked for.
  Load NothingDue() {
    CoordinatorMessage msg;
    Load load;
    EXPECT_FALSE(feed_.Next(&msg, &load)) << msg.DebugString();
    return load;
  }

  // Takes the expiry policy, which always comes first (no store read is
  // asked for while a message waits).
  void SkipPolicy() {
    CoordinatorMessage msg = Next();
    ASSERT_TRUE(msg.has_expiry_policy()) << msg.DebugString();
  }

  FakeStore store_;
  ChangeHub hub_{1000, "epoch-1", 0};
  AgentFeed feed_{&store_, &hub_, absl::Minutes(30)};
  int next_ = 100;  // addresses of Commit(); tests use lower ones
};

TEST_F(AgentFeedTest, AHelloWhileTheStoreCannotAnswerIsRefusedNotResent) {
  store_.FailReads(absl::UnavailableError("LOADING Redis is loading"));
  absl::StatusOr<std::optional<uint64_t>> start =
      feed_.Start(HelloAt("epoch-1", 3));
  EXPECT_EQ(start.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(start.status().message()),
              ::testing::HasSubstr("store: LOADING"));
}

TEST_F(AgentFeedTest, TheExpiryPolicyComesFirst) {
  ASSERT_EQ(StartOk(feed_, HelloAt("", 0)), std::nullopt);
  CoordinatorMessage msg = Next();
  EXPECT_EQ(msg.expiry_policy().expire_after_seconds(), 1800);
}

TEST_F(AgentFeedTest, ANewAgentGetsASnapshotWithoutResend) {
  Commit(3);
  ASSERT_EQ(StartOk(feed_, HelloAt("", 0)), std::nullopt);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  EXPECT_EQ(NothingDue(), Load::kNone);  // one read at a time
  ASSERT_TRUE(feed_.RunLoad(Load::kSnapshot).ok());
  ASSERT_TRUE(feed_.SnapshotNext());
  CoordinatorMessage snap = Next();
  EXPECT_EQ(snap.snapshot().version(), 3u);
  EXPECT_EQ(snap.snapshot().store_epoch(), "epoch-1");
  EXPECT_EQ(snap.snapshot().entries_size(), 3);
  EXPECT_TRUE(snap.snapshot().last());
  EXPECT_FALSE(snap.snapshot().resend());
  EXPECT_EQ(NothingDue(), Load::kNone);
}

TEST_F(AgentFeedTest, AnAgentOfThisEpochGetsTheDeltasItLacksFromTheHub) {
  Commit(3);
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 1)), 1u);
  SkipPolicy();
  EXPECT_THAT(Versions(Next()), ElementsAre(2, 3));
  EXPECT_EQ(NothingDue(), Load::kNone);
  Commit(1);
  EXPECT_THAT(Versions(Next()), ElementsAre(4));
}

TEST_F(AgentFeedTest, AnAgentThatHadAnotherEpochReSendsItsMap) {
  Commit(2);
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-0", 7)), std::nullopt);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  ASSERT_TRUE(feed_.RunLoad(Load::kSnapshot).ok());
  EXPECT_TRUE(Next().snapshot().resend());
}

TEST_F(AgentFeedTest, AnAgentAheadOfTheStoreGetsASnapshot) {
  Commit(2);
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 9)), std::nullopt);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  ASSERT_TRUE(feed_.RunLoad(Load::kSnapshot).ok());
  CoordinatorMessage snap = Next();
  EXPECT_EQ(snap.snapshot().version(), 2u);
  EXPECT_TRUE(snap.snapshot().resend());
}

TEST_F(AgentFeedTest, DeltasOlderThanTheHubAreReadFromTheStore) {
  ASSERT_TRUE(
      store_.MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, INT64_MIN).ok());
  ChangeHub late_hub(1000, "epoch-1", 2);  // started after those
  AgentFeed feed(&store_, &late_hub, absl::Minutes(30));
  ASSERT_EQ(StartOk(feed, HelloAt("epoch-1", 0)), 0u);
  CoordinatorMessage msg;
  Load load;
  ASSERT_TRUE(feed.Next(&msg, &load));  // the policy
  EXPECT_FALSE(feed.Next(&msg, &load));
  ASSERT_EQ(load, Load::kChanges);
  ASSERT_TRUE(feed.RunLoad(load).ok());
  ASSERT_TRUE(feed.Next(&msg, &load));
  EXPECT_THAT(Versions(msg), ElementsAre(1, 2));
}

TEST_F(AgentFeedTest, ChangesGoneFromTheStoreLogMeanASnapshot) {
  ASSERT_TRUE(
      store_.MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, INT64_MIN).ok());
  store_.TrimLogThrough(1);
  ChangeHub late_hub(1000, "epoch-1", 2);
  AgentFeed feed(&store_, &late_hub, absl::Minutes(30));
  ASSERT_EQ(StartOk(feed, HelloAt("epoch-1", 0)), 0u);
  CoordinatorMessage msg;
  Load load;
  ASSERT_TRUE(feed.Next(&msg, &load));  // the policy
  EXPECT_FALSE(feed.Next(&msg, &load));
  ASSERT_EQ(load, Load::kChanges);
  ASSERT_TRUE(feed.RunLoad(load).ok());
  EXPECT_FALSE(feed.Next(&msg, &load));
  ASSERT_EQ(load, Load::kSnapshot);
  ASSERT_TRUE(feed.RunLoad(load).ok());
  ASSERT_TRUE(feed.Next(&msg, &load));
  EXPECT_EQ(msg.snapshot().version(), 2u);
  EXPECT_FALSE(msg.snapshot().resend());
}

TEST_F(AgentFeedTest, AnAckWaitsForTheDeltasItCovers) {
  Commit(2);
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 2)), 2u);
  SkipPolicy();
  // Merged at version 3, which the hub has not published yet.
  ASSERT_TRUE(store_.MergeLogins({{Addr(9), kT}}, INT64_MIN).ok());
  feed_.Merged(3, {"mx1/1", "mx1/2"}, {});
  EXPECT_EQ(feed_.Unsent(), 2u);
  EXPECT_EQ(NothingDue(), Load::kNone);
  hub_.Publish(*store_.ChangesSince(2, 10));
  feed_.HubMoved();
  EXPECT_THAT(Versions(Next()), ElementsAre(3));
  EXPECT_THAT(Acked(Next()), ElementsAre("mx1/1", "mx1/2"));
  EXPECT_EQ(feed_.Unsent(), 0u);
}

TEST_F(AgentFeedTest, AnAgentThatTakesAcksInDeltasGetsThemInTheCoveringBatch) {
  Commit(2);
  v1::Hello hello = HelloAt("epoch-1", 2);
  hello.set_accepts_acks_in_deltas(true);
  ASSERT_EQ(StartOk(feed_, hello), 2u);
  SkipPolicy();
  ASSERT_TRUE(store_.MergeLogins({{Addr(8), kT}}, INT64_MIN).ok());
  ASSERT_TRUE(store_.MergeLogins({{Addr(9), kT}}, INT64_MIN).ok());
  feed_.Merged(3, {"mx1/1"}, {});
  feed_.Merged(4, {"mx1/2"}, {});
  // Version 3 alone reaches the hub: only its ack may ride with it.
  hub_.Publish(*store_.ChangesSince(2, 1));
  feed_.HubMoved();
  CoordinatorMessage first = Next();
  EXPECT_THAT(Versions(first), ElementsAre(3));
  EXPECT_THAT(std::vector<std::string>(first.deltas().ack().event_ids().begin(),
                                       first.deltas().ack().event_ids().end()),
              ElementsAre("mx1/1"));
  EXPECT_EQ(NothingDue(), Load::kNone);  // mx1/2 waits for version 4
  EXPECT_EQ(feed_.Unsent(), 1u);
  hub_.Publish(*store_.ChangesSince(3, 1));
  feed_.HubMoved();
  CoordinatorMessage second = Next();
  EXPECT_THAT(Versions(second), ElementsAre(4));
  EXPECT_EQ(second.deltas().ack().event_ids_size(), 1);
  EXPECT_EQ(NothingDue(), Load::kNone);  // no Ack message of its own
  EXPECT_EQ(feed_.Unsent(), 0u);
  // A batch with no ack due carries none.
  Commit(1);
  EXPECT_FALSE(Next().deltas().has_ack());
}

TEST_F(AgentFeedTest, AnAckOfAnotherEpochGoesRightAfterTheSnapshot) {
  Commit(2);
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 2)), 2u);
  SkipPolicy();
  feed_.Merged(1000, {"mx1/1"}, {});  // a version this epoch never reaches
  EXPECT_EQ(NothingDue(), Load::kNone);
  store_.NewEpoch("epoch-2");
  hub_.Reset("epoch-2", 2);
  feed_.HubMoved();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  ASSERT_TRUE(feed_.RunLoad(Load::kSnapshot).ok());
  CoordinatorMessage snap = Next();
  EXPECT_EQ(snap.snapshot().store_epoch(), "epoch-2");
  EXPECT_TRUE(snap.snapshot().resend());  // the store restarted empty
  EXPECT_THAT(Acked(Next()), ElementsAre("mx1/1"));
}

TEST_F(AgentFeedTest, RejectedEventsAreAcknowledgedWithTheirReasons) {
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 0)), 0u);
  SkipPolicy();
  v1::Rejected r;
  r.set_event_id("mx1/2");
  r.set_reason("never relayed");
  feed_.Merged(0, {"mx1/1", "mx1/2"}, {r});
  CoordinatorMessage ack = Next();
  EXPECT_THAT(Acked(ack), ElementsAre("mx1/1", "mx1/2"));
  ASSERT_EQ(ack.ack().rejected_size(), 1);
  EXPECT_EQ(ack.ack().rejected(0).reason(), "never relayed");
}

TEST_F(AgentFeedTest, OneDeferredCarriesEveryIdAndTheLongestWait) {
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 0)), 0u);
  SkipPolicy();
  v1::LoginBatch a, b;
  a.add_events()->set_event_id("mx1/1");
  b.add_events()->set_event_id("mx1/2");
  b.add_events()->set_event_id("mx1/3");
  feed_.Defer(a, absl::Microseconds(2500), "over", 10);
  feed_.Defer(b, absl::Milliseconds(1), "still over", 10);
  EXPECT_EQ(feed_.Unsent(), 3u);
  CoordinatorMessage msg = Next();
  EXPECT_THAT(msg.deferred().event_ids(),
              ElementsAre("mx1/1", "mx1/2", "mx1/3"));
  EXPECT_EQ(msg.deferred().retry_after_ms(), 3);  // rounded up
  EXPECT_EQ(msg.deferred().reason(), "still over");
  EXPECT_EQ(msg.deferred().logins_per_second(), 10);
  EXPECT_EQ(feed_.Unsent(), 0u);
  EXPECT_EQ(NothingDue(), Load::kNone);
}

TEST_F(AgentFeedTest, AnAgentAheadOfTheHubWaitsForTheNextWakeUp) {
  ASSERT_TRUE(store_.MergeLogins({{Addr(1), kT}}, INT64_MIN).ok());
  // The agent applied version 1 through another coordinator; this hub has
  // not published it yet.
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 1)), 1u);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kVersion);
  ASSERT_TRUE(feed_.RunLoad(Load::kVersion).ok());
  // A commit on its way to the hub: nothing to ask until it moves.
  EXPECT_EQ(NothingDue(), Load::kNone);
  EXPECT_EQ(NothingDue(), Load::kNone);
  hub_.Publish(*store_.ChangesSince(0, 10));
  feed_.HubMoved();
  EXPECT_EQ(NothingDue(), Load::kNone);  // caught up: nothing to send
  Commit(1);
  EXPECT_THAT(Versions(Next()), ElementsAre(2));
}

TEST_F(AgentFeedTest, AStoreThatWentBackInTimeResynchronizes) {
  ASSERT_TRUE(
      store_.MergeLogins({{Addr(1), kT}, {Addr(2), kT}}, INT64_MIN).ok());
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 2)), 2u);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kVersion);
  store_.RollBackTo(1);
  ASSERT_TRUE(feed_.RunLoad(Load::kVersion).ok());
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  ASSERT_TRUE(feed_.RunLoad(Load::kSnapshot).ok());
  CoordinatorMessage snap = Next();
  EXPECT_EQ(snap.snapshot().version(), 1u);
  EXPECT_TRUE(snap.snapshot().resend());
}

TEST_F(AgentFeedTest, AFailedSnapshotReadEndsTheStreamAsUnavailable) {
  ASSERT_EQ(StartOk(feed_, HelloAt("", 0)), std::nullopt);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  store_.FailReads(absl::InternalError("disk on fire"));
  absl::Status s = feed_.RunLoad(Load::kSnapshot);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(s.message(), "store: disk on fire");
}

TEST_F(AgentFeedTest, StoreReadFailuresOfManyStreamsAreLoggedOnce) {
  // Redis loading its AOF: every agent's snapshot read fails, and each
  // agent retries within a second. One line tells the operator.
  store_.FailReads(absl::OkStatus());
  std::vector<std::unique_ptr<AgentFeed>> feeds;
  for (int i = 0; i < 50; ++i) {
    feeds.push_back(
        std::make_unique<AgentFeed>(&store_, &hub_, absl::Minutes(30)));
    ASSERT_EQ(StartOk(*feeds.back(), HelloAt("", 0)), std::nullopt);
  }
  store_.FailReads(absl::UnavailableError("LOADING Redis is loading"));
  ::testing::internal::CaptureStderr();
  for (auto& feed : feeds) {
    EXPECT_TRUE(absl::IsUnavailable(feed->RunLoad(Load::kSnapshot)));
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  // One line, or none if an earlier test of this process logged one in the
  // last 10 s (the limiter is shared, as all streams of a coordinator
  // share it); RateLimitedLogTest shows the first line goes out.
  EXPECT_LE(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

TEST_F(AgentFeedTest, AFailedChangesReadEndsTheStreamAsUnavailable) {
  ASSERT_TRUE(store_.MergeLogins({{Addr(1), kT}}, INT64_MIN).ok());
  ChangeHub late_hub(1000, "epoch-1", 1);
  AgentFeed feed(&store_, &late_hub, absl::Minutes(30));
  ASSERT_EQ(StartOk(feed, HelloAt("epoch-1", 0)), 0u);
  CoordinatorMessage msg;
  Load load;
  ASSERT_TRUE(feed.Next(&msg, &load));  // the policy
  EXPECT_FALSE(feed.Next(&msg, &load));
  ASSERT_EQ(load, Load::kChanges);
  store_.FailReads(absl::UnavailableError("redis down"));
  absl::Status s = feed.RunLoad(load);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(s.message(), "store: redis down");
}

TEST_F(AgentFeedTest, ACancelledLoadIsAskedForAgain) {
  ASSERT_EQ(StartOk(feed_, HelloAt("", 0)), std::nullopt);
  SkipPolicy();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  EXPECT_EQ(NothingDue(), Load::kNone);
  feed_.CancelLoad();
  EXPECT_EQ(NothingDue(), Load::kSnapshot);
}

TEST_F(AgentFeedTest, AnEpochChangeMeansASnapshotAndAResend) {
  Commit(2);
  ASSERT_EQ(StartOk(feed_, HelloAt("epoch-1", 2)), 2u);
  SkipPolicy();
  EXPECT_EQ(NothingDue(), Load::kNone);
  store_.NewEpoch("epoch-2");
  feed_.HubMoved();
  ASSERT_EQ(NothingDue(), Load::kSnapshot);
  ASSERT_TRUE(feed_.RunLoad(Load::kSnapshot).ok());
  CoordinatorMessage snap = Next();
  EXPECT_TRUE(snap.snapshot().resend());
  EXPECT_THAT(snap.snapshot().entries(), IsEmpty());
}

}  // namespace
}  // namespace relaysync
